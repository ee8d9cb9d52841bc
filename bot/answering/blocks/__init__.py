"""Block Kit builders for the Respond modal, receipts and the App Home."""
