"""The `nurture` command line."""
