//! CPU time, user and system, of this process and of the servers it starts, from
//! `/proc/PID/stat`: what a request or an order costs in CPU, beside how fast it goes.

/// CPU time, user and system, that process `pid` has used so far, in seconds: all its threads,
/// those that ended included (`/proc/PID/stat`). NaN if it cannot be read.
pub fn cpu_seconds(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(f64::NAN, |stat| cpu_in_stat(&stat))
}

/// `utime + stime` of a `/proc/PID/stat` line, in seconds.
fn cpu_in_stat(stat: &str) -> f64 {
    // Ticks of USER_HZ, which Linux fixes at 100 a second in its ABI.
    const TICKS: f64 = 100.0;
    // The fields after the command name, which may hold spaces and parentheses, start at
    // field 3 (`state`); `utime` and `stime` are fields 14 and 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |field: usize| fields.get(field - 3).and_then(|t| t.parse::<f64>().ok());
    match (ticks(14), ticks(15)) {
        (Some(user), Some(system)) => (user + system) / TICKS,
        _ => f64::NAN,
    }
}

/// CPU time this process (the benchmark, and so the load's client) has used so far, in s.
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds(std::process::id())
}

/// CPU time used from a start: by a server process, and by this process (the client).
pub struct Cpu {
    server: u32,
    server_start: f64,
    client_start: f64,
}

impl Cpu {
    pub fn start(server: u32) -> Cpu {
        Cpu {
            server,
            server_start: cpu_seconds(server),
            client_start: own_cpu_seconds(),
        }
    }

    pub fn server_seconds(&self) -> f64 {
        cpu_seconds(self.server) - self.server_start
    }

    pub fn client_seconds(&self) -> f64 {
        own_cpu_seconds() - self.client_start
    }

    /// Server and client CPU per unit of work so far, in µs.
    pub fn micros_per(&self, count: u64) -> f64 {
        (self.server_seconds() + self.client_seconds()) * 1e6 / count as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn cpu_time_is_read_after_a_command_name_with_spaces_and_parentheses() {
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194304 98 0 0 0 250 75 0 0 20 0 9 0";
        assert_eq!(cpu_in_stat(stat), 3.25);
        assert!(cpu_in_stat("4242 (cut) S 1").is_nan());
    }

    #[test]
    fn this_process_cpu_time_grows_while_it_works() {
        let before = cpu_seconds(std::process::id());
        assert!(before.is_finite(), "read {before}");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut spin = 0u64;
        while cpu_seconds(std::process::id()) <= before && Instant::now() < deadline {
            spin = std::hint::black_box(spin.wrapping_add(1));
        }
        assert!(cpu_seconds(std::process::id()) > before);
    }
}
