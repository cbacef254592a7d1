//! Output devices: what is there, which is the default, and what it would play at. A machine
//! without a sound card gets an empty list or devices marked unavailable, never a panic, and
//! ALSA's own complaints are captured instead of flooding stderr.

use cpal::traits::{DeviceTrait, HostTrait};
use serde::Serialize;

/// One output device as the UI and `crest devices` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputDevice {
    /// Stable identifier (to remember the user's choice).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    pub is_default: bool,
    /// The device's default output format, or why it cannot be opened.
    pub status: DeviceStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum DeviceStatus {
    Available {
        sample_rate: u32,
        channels: u16,
        sample_format: String,
    },
    /// The device is listed but cannot be opened now (no hardware behind it, busy, …).
    Unavailable { reason: String },
}

/// Lists the output devices of the preferred audio host: PipeWire's or PulseAudio's sinks
/// with their descriptions when that server runs, else ALSA's devices — its hardware and
/// the plugin outputs that open, not the converters, effects and sound servers that are not
/// outputs here (nine raw plugin names on a machine with PulseAudio's ALSA plugins).
pub fn output_devices() -> Vec<OutputDevice> {
    quiet_alsa(|| {
        let host = cpal::default_host();
        let alsa = host.id() == cpal::HostId::Alsa;
        let default_id = host
            .default_output_device()
            .and_then(|d| d.id().ok())
            .map(|id| id.to_string());
        let Ok(devices) = host.output_devices() else {
            return Vec::new();
        };
        devices
            .filter(|device| {
                let id = device.id().map(|id| id.to_string()).unwrap_or_default();
                !alsa || worth_probing(&id)
            })
            .map(|device| {
                let id = device
                    .id()
                    .map(|id| id.to_string())
                    .unwrap_or_else(|_| device.to_string());
                let name = device
                    .description()
                    .map(|d| d.to_string())
                    .unwrap_or_else(|_| id.clone());
                let status = match device.default_output_config() {
                    Ok(config) => DeviceStatus::Available {
                        sample_rate: config.sample_rate(),
                        channels: config.channels(),
                        sample_format: config.sample_format().to_string(),
                    },
                    Err(error) => DeviceStatus::Unavailable {
                        reason: error.to_string(),
                    },
                };
                OutputDevice {
                    is_default: default_id.as_deref() == Some(id.as_str()),
                    id,
                    name,
                    status,
                }
            })
            // ALSA's plugin outputs are listed only when they open; hardware always (a
            // busy card says why).
            .filter(|d| {
                !alsa || is_hardware(&d.id) || matches!(d.status, DeviceStatus::Available { .. })
            })
            .collect()
    })
}

/// ALSA plugin PCMs that are not outputs of their own: rate converters, effects, mixing
/// helpers, and the discarding null device.
const NOT_OUTPUTS: [&str; 9] = [
    "alsa:null",
    "alsa:lavrate",
    "alsa:samplerate",
    "alsa:speexrate",
    "alsa:speex",
    "alsa:upmix",
    "alsa:vdownmix",
    "alsa:oss",
    "alsa:a52",
];

/// Whether an ALSA device is worth opening to see if it plays. JACK's plugin is opened only
/// when a JACK server runs: opening it otherwise makes libjack print its connection errors
/// on stderr, which no handler captures.
fn worth_probing(id: &str) -> bool {
    if NOT_OUTPUTS.contains(&id) {
        return false;
    }
    if id == "alsa:jack" {
        return jack_server_running();
    }
    true
}

/// A running JACK server has its socket in /dev/shm: `jack_SERVER_UID_0` (JACK 2) or
/// `jack-UID/SERVER/` (JACK 1), SERVER being `$JACK_DEFAULT_SERVER` or `default`. (What
/// clients and servers leave behind when they end — `jack_db-0`, `jack-shm-registry` —
/// says nothing.)
fn jack_server_running() -> bool {
    let server = std::env::var("JACK_DEFAULT_SERVER").unwrap_or_else(|_| "default".into());
    jack_socket_in(std::path::Path::new("/dev/shm"), &server)
}

fn jack_socket_in(folder: &std::path::Path, server: &str) -> bool {
    let jack2 = format!("jack_{server}_");
    std::fs::read_dir(folder).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let jack1 = name
                .strip_prefix("jack-")
                .is_some_and(|uid| !uid.is_empty() && uid.bytes().all(|b| b.is_ascii_digit()))
                && e.path().join(server).is_dir();
            name.starts_with(&jack2) || jack1
        })
    })
}

/// A sound card's own device (hw, plughw, and the per-card defaults), as opposed to a plugin.
fn is_hardware(id: &str) -> bool {
    let name = id.strip_prefix("alsa:").unwrap_or(id);
    [
        "hw:",
        "plughw:",
        "sysdefault:",
        "front:",
        "iec958:",
        "hdmi:",
        "surround",
    ]
    .iter()
    .any(|prefix| name.starts_with(prefix))
}

/// Runs `f` with ALSA's error messages captured on this thread instead of printed: on a
/// machine without a sound card ALSA prints several lines each time a device is probed.
#[cfg(target_os = "linux")]
pub(crate) fn quiet_alsa<T>(f: impl FnOnce() -> T) -> T {
    let _captured = alsa::Output::local_error_handler();
    f()
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn quiet_alsa<T>(f: impl FnOnce() -> T) -> T {
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alsa_plugins_that_are_not_outputs_are_not_listed_hardware_always_is() {
        for id in [
            "alsa:null",
            "alsa:lavrate",
            "alsa:speexrate",
            "alsa:upmix",
            "alsa:oss",
        ] {
            assert!(!worth_probing(id), "{id}");
        }
        for id in [
            "alsa:default",
            "alsa:pulse",
            "alsa:hw:CARD=0,DEV=0",
            "alsa:dmix",
        ] {
            assert!(worth_probing(id), "{id}");
        }
        // JACK's plugin only with a JACK server's socket present.
        assert_eq!(worth_probing("alsa:jack"), jack_server_running());
        let shm = std::env::temp_dir().join(format!("crest-shm-{}", std::process::id()));
        std::fs::create_dir_all(&shm).expect("folder");
        for left_behind in [
            "jack_db-0",
            "jack-shm-registry",
            "jack_sem.0_default_system",
        ] {
            std::fs::write(shm.join(left_behind), b"").expect("file");
        }
        assert!(!jack_socket_in(&shm, "default"));
        std::fs::write(shm.join("jack_default_0_0"), b"").expect("socket");
        assert!(jack_socket_in(&shm, "default"));
        assert!(!jack_socket_in(&shm, "studio"));
        std::fs::create_dir_all(shm.join("jack-1000/studio")).expect("JACK 1 folder");
        assert!(jack_socket_in(&shm, "studio"));
        let _ = std::fs::remove_dir_all(&shm);
        for id in [
            "alsa:hw:CARD=0,DEV=0",
            "alsa:plughw:CARD=1,DEV=3",
            "alsa:sysdefault:CARD=0",
        ] {
            assert!(is_hardware(id), "{id}");
        }
        for id in ["alsa:default", "alsa:pulse", "pulseaudio:crest_out"] {
            assert!(!is_hardware(id), "{id}");
        }
    }
}
