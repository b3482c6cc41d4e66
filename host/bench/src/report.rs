//! Figures, their medians over runs, and the report: the machine, the versions, each figure and
//! the ratios between figures measured in the same run.

use std::fmt::Write as _;
use std::time::Duration;

/// The median of some runs (the upper middle one for an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The `q` quantile (0..=1) of latencies, by nearest rank.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One line of the report: a figure's median over its runs, with its unit.
#[derive(Debug, Clone)]
pub struct Figure {
    pub section: &'static str,
    pub name: String,
    pub unit: &'static str,
    pub runs: Vec<f64>,
}

impl Figure {
    pub fn median(&self) -> f64 {
        median(self.runs.clone())
    }
}

/// A ratio of two figures' medians, with the goal it is held to (if any).
#[derive(Debug, Clone)]
pub struct Ratio {
    pub name: String,
    pub value: f64,
    pub goal: Option<String>,
    pub met: Option<bool>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub figures: Vec<Figure>,
    pub ratios: Vec<Ratio>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn add(
        &mut self,
        section: &'static str,
        name: impl Into<String>,
        unit: &'static str,
        runs: Vec<f64>,
    ) {
        let figure = Figure {
            section,
            name: name.into(),
            unit,
            runs,
        };
        eprintln!(
            "  {:<58} {:>12} {}",
            figure.name,
            format_value(figure.median()),
            figure.unit
        );
        self.figures.push(figure);
    }

    /// The median of the figure named `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.figures
            .iter()
            .find(|f| f.name == name)
            .map(Figure::median)
    }

    /// `numerator / denominator` of two figures' medians, checked against `goal` (at least).
    pub fn ratio(
        &mut self,
        name: impl Into<String>,
        numerator: &str,
        denominator: &str,
        at_least: Option<f64>,
    ) {
        let (Some(n), Some(d)) = (self.get(numerator), self.get(denominator)) else {
            return;
        };
        let value = n / d;
        self.ratios.push(Ratio {
            name: name.into(),
            value,
            goal: at_least.map(|g| format!(">= {g}")),
            met: at_least.map(|g| value >= g),
        });
    }

    /// A ratio computed from several figures, with no goal of its own.
    pub fn derived(&mut self, name: impl Into<String>, value: f64) {
        self.ratios.push(Ratio {
            name: name.into(),
            value,
            goal: None,
            met: None,
        });
    }

    /// A figure held to an upper bound, e.g. a latency goal.
    pub fn goal_below(&mut self, name: &str, bound: f64, unit: &str) {
        if let Some(value) = self.get(name) {
            self.ratios.push(Ratio {
                name: format!("{name} (goal < {bound} {unit})"),
                value,
                goal: Some(format!("< {bound} {unit}")),
                met: Some(value < bound),
            });
        }
    }

    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        eprintln!("  note: {note}");
        self.notes.push(note);
    }

    /// The report as Markdown, as BENCHMARKS.md records it.
    pub fn markdown(&self, machine: &str, command: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Command: `{command}`\n\n{machine}\n");
        let mut section = "";
        for f in &self.figures {
            if f.section != section {
                section = f.section;
                let _ = writeln!(
                    out,
                    "\n### {section}\n\n| figure | median | unit | runs |\n|---|---:|---|---|"
                );
            }
            let runs: Vec<String> = f.runs.iter().map(|r| format_value(*r)).collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                f.name,
                format_value(f.median()),
                f.unit,
                runs.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "\n### Ratios and goals (same run)\n\n| ratio | value | goal | met |\n|---|---:|---|---|"
        );
        for r in &self.ratios {
            let met = match r.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            };
            let _ = writeln!(
                out,
                "| {} | {:.2} | {} | {met} |",
                r.name,
                r.value,
                r.goal.as_deref().unwrap_or("")
            );
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "\nNotes:\n");
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "n/a".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Cores, CPU model, kernel and the versions that matter, for the report's head.
pub fn machine(rabbitmq: Option<&str>) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(str::trim)
        .unwrap_or("unknown CPU");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(String::from("?"), |kb| format!("{} GiB", kb / 1024 / 1024));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "Machine: {cores} cores, {model}, {memory}, Linux {}. Versions: switchyard {}, {rustc}, SQLite {}, RabbitMQ {}.",
        kernel.trim(),
        env!("CARGO_PKG_VERSION"),
        rusqlite::version(),
        rabbitmq.unwrap_or("not run"),
    )
}
