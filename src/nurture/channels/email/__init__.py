"""The email channel: MIME building, DKIM signing and SMTP delivery."""
