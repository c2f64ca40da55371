"""Model adapters that ship with xaikit, registered through the plugin hooks."""
