"""The Slack edge: Web API client, mrkdwn escaping, channel and people caches, shared Block Kit helpers."""
