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

/// Lists the output devices of the default audio host.
pub fn output_devices() -> Vec<OutputDevice> {
    quiet_alsa(|| {
        let host = cpal::default_host();
        let default_id = host
            .default_output_device()
            .and_then(|d| d.id().ok())
            .map(|id| id.to_string());
        let Ok(devices) = host.output_devices() else {
            return Vec::new();
        };
        devices
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
                    // ALSA's null device accepts a stream and discards it, pulling audio as
                    // fast as the callback can produce it: not something to listen through.
                    Ok(_) if id == "alsa:null" => DeviceStatus::Unavailable {
                        reason: "ALSA's null device discards audio; it is not a sound output"
                            .into(),
                    },
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
            .collect()
    })
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
