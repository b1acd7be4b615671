use super::*;

fn tps(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn host() -> Vec<Probe> {
    catalog(&tps(&[
        ("syscalls", "sys_enter_openat"),
        ("syscalls", "sys_exit_openat"),
        ("syscalls", "sys_enter_read"),
        ("syscalls", "sys_exit_read"),
        ("sched", "sched_switch"),
        ("sched", "sched_process_exec"),
        ("block", "block_rq_issue"),
    ]))
}

#[test]
fn the_catalog_names_linux_tracepoints_as_dtrace_does() {
    let all = host();
    let names: Vec<String> = all
        .iter()
        .map(|p| format!("{}:{}:{}:{}", p.provider, p.module, p.function, p.name))
        .collect();
    assert_eq!(
        &names[..9],
        [
            "dtrace:::BEGIN",
            "dtrace:::END",
            "dtrace:::ERROR",
            "syscall:vmlinux:openat:entry",
            "syscall:vmlinux:openat:return",
            "syscall:vmlinux:read:entry",
            "syscall:vmlinux:read:return",
            "proc:vmlinux:sched_process_exec:exec-success",
            "sched:vmlinux:sched_switch:on-cpu",
        ]
    );
    assert!(names.contains(&"io:vmlinux:block_rq_issue:start".to_owned()));
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("io:vmlinux:block_rq_complete"))
    );
    assert!(names.contains(&"profile:::profile-997".to_owned()));
    let ids: Vec<u32> = all.iter().map(|p| p.id).collect();
    assert_eq!(
        ids,
        (1..=u32::try_from(all.len()).unwrap()).collect::<Vec<_>>()
    );
    assert_eq!(
        all[3].attach,
        Attach::Tracepoint {
            category: "syscalls".into(),
            name: "sys_enter_openat".into()
        }
    );
}

#[test]
fn descriptions_match_with_dtrace_wildcards() {
    let all = host();
    let hit = |pr: &str, m: &str, f: &str, n: &str| -> Vec<u32> {
        all.iter()
            .filter(|p| matches(p, pr, m, f, n))
            .map(|p| p.id)
            .collect()
    };
    assert_eq!(hit("syscall", "", "open*", "entry"), [4]);
    assert_eq!(hit("syscall", "", "", "").len(), 4);
    assert_eq!(hit("", "", "", "BEGIN"), [1]);
    assert_eq!(hit("sys?all", "", "[or]*", "return"), [5, 7]);
    assert_eq!(hit("syscall", "", "[!o]*", "entry"), [6]);
    assert!(hit("fbt", "", "", "").is_empty());
}

#[test]
fn glob_is_dtrace_s() {
    assert!(glob("", "anything"));
    assert!(glob("*", ""));
    assert!(glob("a*b*c", "aXXbYYc"));
    assert!(!glob("a*b*c", "aXXbYY"));
    assert!(glob("a\\*", "a*"));
    assert!(!glob("a\\*", "ab"));
    assert!(glob("[a-c]x", "bx"));
    assert!(glob("[", "["));
    assert!(!glob("?", ""));
    // Many stars on a long subject stay fast (no exponential backtracking).
    let long = "a".repeat(10_000);
    assert!(glob(&"*a".repeat(50), &long));
    assert!(!glob(&format!("{}b", "*a".repeat(50)), &long));
}

#[test]
fn clock_rates_and_periods() {
    assert_eq!(clock("profile-997"), Some((1_003_009, true)));
    assert_eq!(clock("profile-5000hz"), Some((200_000, true)));
    assert_eq!(clock("tick-1sec"), Some((1_000_000_000, false)));
    assert_eq!(clock("tick-10ms"), Some((10_000_000, false)));
    assert_eq!(clock("tick-10s"), Some((10_000_000_000, false)));
    assert_eq!(clock("tick-2min"), Some((120_000_000_000, false)));
    assert_eq!(clock("profile-5001"), None, "faster than 5000 Hz");
    assert_eq!(clock("tick-100us"), None, "shorter than 200 us");
    assert_eq!(clock("profile-0"), None);
    assert_eq!(clock("profile-x"), None);
    assert_eq!(clock("tick-99999999999999999999"), None);
    assert_eq!(clock("tick-9999999999999day"), None, "overflow");
    assert_eq!(clock("cpu-997"), None);
}

#[test]
fn the_list_has_dtrace_s_columns() {
    let all = host();
    let shown: Vec<&Probe> = all.iter().filter(|p| p.id <= 4).collect();
    assert_eq!(
        render_list(&shown),
        "   ID   PROVIDER            MODULE                          FUNCTION NAME\n\
         \x20   1     dtrace                                                     BEGIN\n\
         \x20   2     dtrace                                                     END\n\
         \x20   3     dtrace                                                     ERROR\n\
         \x20   4    syscall           vmlinux                            openat entry\n"
    );
}
