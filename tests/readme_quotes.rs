//! The README quotes real code, so that its copy cannot drift: the Leptos and Yew quick starts
//! are the `ANCHOR` parts of the apps (examples/leptos-app/src/app.rs, examples/yew-app/src/),
//! and the "Testing your app" example is the test kit's test file (tests/testing_kit.rs), whole.

const README: &str = include_str!("../README.md");

/// The text between `// ANCHOR: name` and `// ANCHOR_END: name` lines.
fn anchored<'a>(source: &'a str, name: &str) -> &'a str {
    let start = format!("// ANCHOR: {name}\n");
    let end = format!("// ANCHOR_END: {name}\n");
    let from = source.find(&start).expect("anchor start") + start.len();
    let to = from + source[from..].find(&end).expect("anchor end");
    &source[from..to]
}

fn assert_quoted(path: &str, part: &str, code: &str) {
    assert!(
        README.contains(&format!("```rust,ignore\n{code}```")),
        "README.md must quote {path} ({part}) verbatim in a ```rust,ignore block:\n{code}"
    );
}

#[test]
fn the_leptos_quick_start_is_the_leptos_app() {
    let app = include_str!("../examples/leptos-app/src/app.rs");
    let names: Vec<&str> = app
        .lines()
        .filter_map(|line| line.trim().strip_prefix("// ANCHOR: "))
        .collect();
    assert_eq!(names, ["manager", "requests", "session", "login"]);
    for name in names {
        assert_quoted("examples/leptos-app/src/app.rs", name, anchored(app, name));
    }
}

#[test]
fn the_yew_quick_start_is_the_yew_app() {
    for (path, source, expected) in [
        (
            "examples/yew-app/src/app.rs",
            include_str!("../examples/yew-app/src/app.rs"),
            &["manager", "hooks", "requests", "session", "login"][..],
        ),
        (
            "examples/yew-app/src/oauth.rs",
            include_str!("../examples/yew-app/src/oauth.rs"),
            &["oauth"][..],
        ),
    ] {
        let names: Vec<&str> = source
            .lines()
            .filter_map(|line| line.trim().strip_prefix("// ANCHOR: "))
            .collect();
        assert_eq!(names, expected, "{path}");
        for name in names {
            assert_quoted(path, name, anchored(source, name));
        }
    }
}

#[test]
fn the_test_kit_example_is_tests_testing_kit_rs() {
    assert_quoted(
        "tests/testing_kit.rs",
        "the whole file",
        include_str!("testing_kit.rs"),
    );
}
