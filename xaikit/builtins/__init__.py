"""xaikit's own plugins, registered through the plugin hooks exactly as third-party ones are."""
