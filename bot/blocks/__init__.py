"""Pure Block Kit builders: data in, validated block dicts out (slack_sdk.models checks limits)."""
