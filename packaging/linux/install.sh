#!/bin/sh
# Install Roundhouse for the current user from this unpacked bundle. Needs no root.
#
#   ./install.sh
#
# The app goes to ~/.local/opt/roundhouse, its commands to ~/.local/bin, a menu entry to
# ~/.local/share/applications and a systemd user unit (not enabled) to ~/.config/systemd/user.
# Nothing starts at login unless you turn on "Start at login" in the tray menu.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
app_dir="$HOME/.local/opt/roundhouse"
bin_dir="$HOME/.local/bin"
data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
config_home="${XDG_CONFIG_HOME:-$HOME/.config}"
# ROUNDHOUSE_SYSTEMCTL=true leaves the user's systemd alone (the tests use it).
systemctl="${ROUNDHOUSE_SYSTEMCTL:-systemctl}"

if [ ! -x "$here/roundhoused" ] || [ ! -x "$here/roundhouse" ]; then
    echo "install.sh: run me from the unpacked Roundhouse bundle" >&2
    exit 1
fi

if [ "$here" != "$app_dir" ]; then
    rm -rf "$app_dir.new"
    mkdir -p "$app_dir.new"
    cp -a "$here/." "$app_dir.new/"
    rm -rf "$app_dir"
    mv "$app_dir.new" "$app_dir"
fi

mkdir -p "$bin_dir" "$data_home/applications" "$config_home/systemd/user"
ln -sf "$app_dir/roundhouse" "$bin_dir/roundhouse"
ln -sf "$app_dir/roundhoused" "$bin_dir/roundhoused"

sed "s|^Exec=.*|Exec=$app_dir/roundhouse|" "$app_dir/roundhouse.desktop" \
    >"$data_home/applications/roundhouse.desktop"
icon="$app_dir/_internal/roundhouse/resources/icons/roundhouse.png"
if [ -f "$icon" ]; then
    mkdir -p "$data_home/icons/hicolor/256x256/apps"
    cp "$icon" "$data_home/icons/hicolor/256x256/apps/roundhouse.png"
fi
cp "$app_dir/roundhouse-daemon.service" "$config_home/systemd/user/roundhouse-daemon.service"
if command -v "$systemctl" >/dev/null 2>&1; then
    "$systemctl" --user daemon-reload 2>/dev/null || true
fi

echo "Roundhouse is installed in $app_dir."
echo "Start it from the application menu, or run: roundhouse"
echo "Headless instead: systemctl --user enable --now roundhouse-daemon"
case ":$PATH:" in
*":$bin_dir:"*) ;;
*) echo "Note: $bin_dir is not on your PATH." ;;
esac
