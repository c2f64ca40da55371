"""The plugin contract: hook specifications, the plugin kinds, parameter schemas, errors
and the plugin manager. Nothing here imports nnabla."""
