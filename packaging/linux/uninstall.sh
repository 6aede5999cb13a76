#!/bin/sh
# Remove Roundhouse installed by install.sh, including its autostart entry.
#
#   ~/.local/opt/roundhouse/uninstall.sh           asks before deleting your config, data and logs
#   ~/.local/opt/roundhouse/uninstall.sh --purge   deletes them without asking
#   ~/.local/opt/roundhouse/uninstall.sh --keep    keeps them without asking
set -eu

mode=ask
case "${1:-}" in
--purge) mode=purge ;;
--keep) mode=keep ;;
"") ;;
*)
    echo "usage: uninstall.sh [--purge|--keep]" >&2
    exit 2
    ;;
esac

app_dir="$HOME/.local/opt/roundhouse"
bin_dir="$HOME/.local/bin"
data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
config_home="${XDG_CONFIG_HOME:-$HOME/.config}"
# ROUNDHOUSE_SYSTEMCTL=true leaves the user's systemd alone (the tests use it).
systemctl="${ROUNDHOUSE_SYSTEMCTL:-systemctl}"
state_home="${XDG_STATE_HOME:-$HOME/.local/state}"

if command -v "$systemctl" >/dev/null 2>&1; then
    "$systemctl" --user disable --now roundhouse-daemon.service 2>/dev/null || true
fi
rm -f "$config_home/systemd/user/roundhouse-daemon.service"
if command -v "$systemctl" >/dev/null 2>&1; then
    "$systemctl" --user daemon-reload 2>/dev/null || true
fi

rm -f "$config_home/autostart/roundhouse.desktop"
rm -f "$data_home/applications/roundhouse.desktop"
rm -f "$data_home/icons/hicolor/256x256/apps/roundhouse.png"
for name in roundhouse roundhoused; do
    if [ -L "$bin_dir/$name" ]; then rm -f "$bin_dir/$name"; fi
done
rm -rf "$app_dir"
echo "Roundhouse is removed."

config_dir="$config_home/roundhouse"
data_dir="$data_home/roundhouse"
log_dir="$state_home/roundhouse"
if [ "$mode" = ask ]; then
    mode=keep
    if (: </dev/tty >/dev/tty) 2>/dev/null; then
        printf 'Also delete your Roundhouse settings, database and logs?\n  %s\n  %s\n  %s\n[y/N] ' \
            "$config_dir" "$data_dir" "$log_dir" >/dev/tty
        read -r answer </dev/tty || answer=
        case "$answer" in
        y | Y | yes | YES) mode=purge ;;
        esac
    fi
fi
if [ "$mode" = purge ]; then
    rm -rf "$config_dir" "$data_dir" "$log_dir"
    echo "Your settings, data and logs are deleted."
else
    echo "Kept your settings, data and logs in $config_dir, $data_dir and $log_dir."
fi
