"""Native Qt windows of the tray app: Settings (with its pages), Budget, status and dialogs."""
