"""The composition root: settings are read, the services built and wired, the app run."""
