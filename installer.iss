; Roundhouse for Windows: a per-user installer (no administrator rights) for the PyInstaller bundle.
;
;   1. make package                      builds dist\roundhouse\ (packaging\roundhouse.spec)
;   2. iscc installer.iss                Inno Setup 6; or: iscc /DAppVersion=0.2.0 installer.iss
;
; Output: dist\installer\RoundhouseSetup-<version>.exe
; tests/packaging/test_installer_script.py checks this script against packaging/bundle_layout.py.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "Roundhouse"
#define BundleDir "dist\roundhouse"
#define TrayExe "roundhouse.exe"
#define DaemonExe "roundhoused.exe"
; The tray app holds this named mutex while it runs (packaging/bundle_layout.py: WINDOWS_APP_MUTEX).
#define AppMutexName "RoundhouseTrayMutex"
; The tray's "Start at login" toggle writes the same value (desktop/autostart.py: RUN_VALUE).
#define RunKey "Software\Microsoft\Windows\CurrentVersion\Run"
#define StartupApprovedKey "Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
#define RunValue "Roundhouse"

[Setup]
; Never change AppId: upgrades and the uninstaller find the installed copy by it.
AppId={{98A2E46F-6356-4600-B6B4-D85604DFA556}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppName}
DefaultDirName={localappdata}\Programs\{#AppName}
DisableDirPage=auto
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
; Setup and the uninstaller wait for a running tray app to be closed before they touch its files;
; the Restart Manager closes a daemon still using them.
AppMutex={#AppMutexName}
CloseApplications=yes
RestartApplications=no
UninstallDisplayIcon={app}\{#TrayExe}
UninstallDisplayName={#AppName}
OutputDir=dist\installer
OutputBaseFilename=RoundhouseSetup-{#AppVersion}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
SetupLogging=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "autostart"; Description: "Start Roundhouse when I sign in"; GroupDescription: "Startup:"; Flags: unchecked

[InstallDelete]
; An upgrade replaces the whole bundle, so files that a newer build no longer has do not linger.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#BundleDir}\{#TrayExe}"; DestDir: "{app}"; Flags: ignoreversion
Source: "{#BundleDir}\{#DaemonExe}"; DestDir: "{app}"; Flags: ignoreversion
Source: "{#BundleDir}\_internal\*"; DestDir: "{app}\_internal"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#TrayExe}"; Comment: "One local endpoint for local and cloud models"

[Registry]
Root: HKCU; Subkey: "{#RunKey}"; ValueType: string; ValueName: "{#RunValue}"; ValueData: """{app}\{#TrayExe}"""; Tasks: autostart; Flags: uninsdeletevalue

[Run]
Filename: "{app}\{#TrayExe}"; Description: "Start {#AppName} now"; Flags: nowait postinstall skipifsilent

[UninstallRun]
; A daemon started from a terminal keeps its files open; the tray's own daemon stops with the tray.
Filename: "{sys}\taskkill.exe"; Parameters: "/F /T /IM {#DaemonExe}"; Flags: runhidden; RunOnceId: "StopDaemon"

[Code]
function UserDataDir(): String;
begin
  { platformdirs' user_config_dir, user_data_dir and user_log_dir for "roundhouse" all live here. }
  Result := ExpandConstant('{localappdata}\roundhouse');
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usUninstall then
  begin
    { The entry may come from the setup task or from the tray's toggle: remove it either way. }
    RegDeleteValue(HKEY_CURRENT_USER, '{#RunKey}', '{#RunValue}');
    RegDeleteValue(HKEY_CURRENT_USER, '{#StartupApprovedKey}', '{#RunValue}');
  end;
  if CurUninstallStep = usPostUninstall then
  begin
    if DirExists(UserDataDir()) and not UninstallSilent() then
    begin
      if MsgBox('Also delete your Roundhouse settings, database and logs?' + #13#10#13#10 +
                UserDataDir() + #13#10#13#10 +
                'Choose No to keep them for a later install. Cloud API keys stay in Windows Credential Manager.',
                mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES then
        DelTree(UserDataDir(), True, True, True);
    end;
  end;
end;
