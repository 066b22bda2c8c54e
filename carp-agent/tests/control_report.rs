//! `VhidReport::new` from an engine's status and the configuration.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report

use std::path::Path;

use carp_agent::{
    config::Config,
    control::{VhidReport, VhidState},
    engine::{Engine, Iface, Time},
};

#[test]
fn report_from_engine_status() {
    let config = Config::from_toml_str(
        "[[vhid]]\ninterface = \"em0\"\nvhid = 1\nadvskew = 100\npreempt = true\n\
         password = \"testpass\"\nvips = [\"192.168.1.50/24\"]\n",
        Path::new("carp.toml"),
    )
    .unwrap();
    let settings = &config.vhids[0];
    let mut engine = Engine::new();
    let now = Time::ZERO;
    let key = engine
        .add_vhid(
            now,
            Iface::new(2),
            settings.engine_config("192.168.1.5".parse().unwrap()),
        )
        .unwrap();
    engine.set_demotion(now, 50);
    let status = engine.status(key).unwrap();
    let report = VhidReport::new(settings, &status, engine.demotion());
    assert_eq!(report.interface, "em0");
    assert_eq!(report.vhid, 1);
    assert_eq!(report.state, VhidState::Init);
    assert_eq!((report.advbase, report.advskew), (1, 100));
    assert_eq!(report.advskew_effective, 150);
    assert_eq!(report.demotion, 50);
    assert!(report.preempt);
    assert_eq!(report.vips, ["192.168.1.50/24"]);
    assert_eq!(report.master, None);
}
