"""The web console (served by ``logsluice serve``); built later."""
