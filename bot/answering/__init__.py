"""Answering: the Respond modal, the 3-second intake, the inbox, recording, anonymity, import, App Home."""
