//! Progress of the long operator commands (`dlq redrive`, `replay`, `deploy`, `import`, the
//! plugin builds of `up --build`): a bar or a spinner on stderr when stderr is a terminal,
//! nothing at all otherwise, so that a pipe or a log file gets only the commands' own lines.
//! No colors, so `NO_COLOR` holds; `TERM=dumb` (a terminal that cannot redraw a line) gets
//! nothing either.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Whether progress is drawn: stderr is a terminal that can redraw a line.
pub fn shown() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|term| term != "dumb")
}

/// A spinner saying `what`, with a count once [`counted`] gives it a total; hidden where
/// progress is not [`shown`].
pub fn spinner(what: impl Into<String>) -> ProgressBar {
    if !shown() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_prefix(what.into());
    bar.set_style(style("{spinner} {prefix} {elapsed} {msg}"));
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// Turns `bar` into a bar of `total` steps.
pub fn counted(bar: &ProgressBar, total: u64) {
    if bar.length() != Some(total) {
        bar.set_length(total);
        bar.set_style(style(
            "{spinner} {prefix} [{bar:30}] {pos}/{len} {elapsed} {msg}",
        ));
    }
}

fn style(template: &str) -> ProgressStyle {
    // The templates are constants of this file; a bad one would fail every test that draws.
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .progress_chars("=> ")
}

/// `up --build`: runs the plugins' builds; on a terminal a spinner names the one running and
/// its output scrolls above it.
pub fn build_plugins(
    plugins: &[crate::config::PluginConfig],
) -> Result<(), crate::plugin::build::BuildError> {
    if !shown() {
        return crate::plugin::build::build_all(plugins, None);
    }
    let builds = Builds {
        bar: spinner("building plugins"),
    };
    let built = crate::plugin::build::build_all(plugins, Some(&builds));
    builds.bar.finish_and_clear();
    built
}

struct Builds {
    bar: ProgressBar,
}

impl crate::plugin::build::BuildDisplay for Builds {
    fn start(&self, plugin: &str, command: &str, index: usize, count: usize) {
        let what = format!("building plugin `{plugin}` ({index}/{count})");
        self.bar.println(format!("{what}: `{command}`"));
        self.bar.set_prefix(what);
        self.bar.reset_elapsed();
    }

    fn line(&self, line: &str) {
        self.bar.println(line);
    }
}

/// `deploy`'s resources as it checks them, on a bar.
pub fn deploying(bar: &ProgressBar) -> impl Fn(usize, usize, &str) + Sync + '_ {
    move |done, total, what| {
        counted(bar, total as u64);
        bar.set_position(done as u64);
        bar.set_message(format!("checking {what}"));
    }
}

/// `import`'s resources as it converts them, on a bar cleared once the last is converted.
pub fn importing(bar: &ProgressBar) -> impl Fn(usize, usize, &str) + '_ {
    move |done, total, id| {
        counted(bar, total as u64);
        bar.set_position(done as u64);
        bar.set_message(id.to_string());
        if done == total {
            bar.finish_and_clear();
        }
    }
}
