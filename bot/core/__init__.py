"""What every room is handed: settings, the services context, permissions, time formats."""
