//! Reading a docs file: its fenced blocks, the rules they follow, and the bash script made
//! from its ```sh blocks, with a map from each script line back to the file.
//!
//! The rules: a fence says what it holds. ```sh is commands, and every line of it runs (no
//! `…` placeholder before a comment); ```text is output and anything not to run; a fence
//! without a language, or ```bash/```console/```shell, is refused so nobody guesses which
//! kind it is. A command starting with `! ` must fail: bash ignores `set -e` for it, so the
//! script checks it, and when the next line is `# error: MESSAGE` also that its standard
//! error contains MESSAGE up to the first `…`. Servers are given `--listen` (the harness
//! moves the documented ports to free ones, which it cannot do for a default).

/// A fenced block: where it starts (1-based line of the fence), its language, its lines.
#[derive(Debug)]
pub struct Block {
    pub fence_line: usize,
    pub lang: String,
    /// (1-based line in the file, text with the fence's indentation removed).
    pub lines: Vec<(usize, String)>,
}

/// Languages a fence may name; only `sh` runs.
const LANGS: &[&str] = &["sh", "text", "yaml", "json", "toml", "rust", "ini"];

/// The fenced blocks of `text`, or every rule broken (`LINE: what; what to do`).
pub fn blocks(text: &str) -> Result<Vec<Block>, Vec<String>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut open: Option<(usize, Block)> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        match open.take() {
            None if trimmed.starts_with("```") => {
                let lang = trimmed.trim_start_matches('`').trim().to_string();
                if !LANGS.contains(&lang.as_str()) {
                    errors.push(format!(
                        "{n}: a fence with language '{lang}'; write ```sh for commands the docs test runs, \
                         ```text for output and anything not to run (or one of {LANGS:?})"
                    ));
                }
                open = Some((indent, Block { fence_line: n, lang, lines: Vec::new() }));
            }
            None => {}
            Some((_, block)) if trimmed == "```" => out.push(block),
            Some((fence_indent, mut block)) => {
                let cut = indent.min(fence_indent);
                block.lines.push((n, line[cut..].to_string()));
                open = Some((fence_indent, block));
            }
        }
    }
    if let Some((_, block)) = open {
        errors.push(format!("{}: a fence that is never closed", block.fence_line));
    }
    for block in out.iter().filter(|b| b.lang == "sh") {
        for command in commands(block) {
            check_command(&command, &mut errors);
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// One shell command as written: its lines (joined by trailing backslashes).
#[derive(Debug)]
pub struct Command {
    pub lines: Vec<(usize, String)>,
}

impl Command {
    pub fn first_line(&self) -> usize {
        self.lines[0].0
    }

    /// The text without comments at the end of lines (roughly: from ` #` on).
    fn code(&self) -> String {
        self.lines.iter().map(|(_, l)| strip_comment(l)).collect::<Vec<_>>().join(" ")
    }
}

/// A line without its comment: from a `#` at the start or after a blank (quotes ignored,
/// which the docs' commands do not need).
fn strip_comment(line: &str) -> &str {
    if line.trim_start().starts_with('#') {
        return "";
    }
    match line.find(" #") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// The commands of a block: comment-only and blank lines are their own (empty) commands.
pub fn commands(block: &Block) -> Vec<Command> {
    let mut out: Vec<Command> = Vec::new();
    let mut current: Vec<(usize, String)> = Vec::new();
    for (n, line) in &block.lines {
        current.push((*n, line.clone()));
        if !strip_comment(line).trim_end().ends_with('\\') {
            out.push(Command { lines: std::mem::take(&mut current) });
        }
    }
    if !current.is_empty() {
        out.push(Command { lines: current });
    }
    out
}

fn check_command(command: &Command, errors: &mut Vec<String>) {
    let code = command.code();
    let n = command.first_line();
    if code.contains('…') {
        errors.push(format!(
            "{n}: a placeholder '…' in a ```sh command; every line of ```sh runs, so write a real value \
             (or move the example to ```text)"
        ));
    }
    let words: Vec<&str> = code.split_whitespace().collect();
    let starts_server = words.windows(3).any(|w| {
        w[0] == "acc" && matches!((w[1], w[2]), ("server", "init") | ("site", "init") | ("site", "join"))
    });
    if starts_server && !words.contains(&"--listen") {
        errors.push(format!(
            "{n}: give --listen 127.0.0.1:PORT (8443-8446); the docs test moves those ports to free ones, \
             a default port it cannot"
        ));
    }
}

/// The documented ports the harness replaces with free ones (`:8443` and so on).
pub const PORTS: &[u16] = &[8443, 8444, 8445, 8446];

/// The bash script of a file's ```sh blocks, and for each of its lines the file's line
/// and the block's number (`None` for the lines the script adds).
pub struct Script {
    pub text: String,
    pub origin: Vec<Option<(usize, usize)>>,
    /// Per block number (1-based, among the ```sh blocks): the fence's line.
    pub fences: Vec<usize>,
}

/// Where a failing `! command` leaves its standard error (in the work directory's parent).
pub const ERR_FILE: &str = "../expected-failure.stderr";

/// The script for `blocks`, with `ports` (documented port -> free port) applied.
pub fn script(blocks: &[Block], ports: &[(u16, u16)]) -> Script {
    let mut s = Script { text: String::new(), origin: Vec::new(), fences: Vec::new() };
    let push = |s: &mut Script, line: &str, origin: Option<(usize, usize)>| {
        s.text.push_str(line);
        s.text.push('\n');
        s.origin.push(origin);
    };
    push(&mut s, "set -eEuo pipefail", None);
    push(&mut s, "trap 'echo \"::docs-failed $LINENO $?\" >&2' ERR", None);
    for block in blocks.iter().filter(|b| b.lang == "sh") {
        s.fences.push(block.fence_line);
        let number = s.fences.len();
        push(&mut s, &format!("echo '::docs-block {number}' >&2"), None);
        let commands = commands(block);
        for (i, command) in commands.iter().enumerate() {
            let lines: Vec<(usize, String)> =
                command.lines.iter().map(|(n, l)| (*n, with_ports(l, ports))).collect();
            let Some(rest) = lines[0].1.strip_prefix("! ") else {
                for (n, l) in &lines {
                    push(&mut s, l, Some((*n, number)));
                }
                continue;
            };
            // `! cmd`: run it with its standard error kept, fail if it succeeds.
            let first = (lines[0].0, number);
            push(&mut s, &format!("if {{ {rest}"), Some(first));
            for (n, l) in &lines[1..] {
                push(&mut s, l, Some((*n, number)));
            }
            push(&mut s, &format!("}} 2>{ERR_FILE}; then cat {ERR_FILE} >&2"), Some(first));
            push(
                &mut s,
                "  echo 'this command was documented to fail and succeeded' >&2; false",
                Some(first),
            );
            push(&mut s, &format!("else cat {ERR_FILE} >&2; fi"), Some(first));
            let expected = commands
                .get(i + 1)
                .and_then(|next| next.lines[0].1.trim().strip_prefix("# error:").map(str::trim))
                .map(|m| m.split('…').next().unwrap_or_default().trim_end());
            if let Some(message) = expected.filter(|m| !m.is_empty()) {
                let quoted = message.replace('\'', r"'\''");
                push(
                    &mut s,
                    &format!(
                        "grep -qF -- '{quoted}' {ERR_FILE} || {{ echo 'the error does not contain the documented: {quoted}' >&2; false; }}"
                    ),
                    Some(first),
                );
            }
        }
    }
    s
}

/// `line` with each documented port (after a `:`) replaced.
fn with_ports(line: &str, ports: &[(u16, u16)]) -> String {
    let mut out = line.to_string();
    for (from, to) in ports {
        out = out.replace(&format!(":{from}"), &format!(":{to}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sh_blocks_become_a_script_that_maps_back_to_the_file() {
        let doc = "# T\n\n```sh\nacc pki key --out k \\\n  --force   # why\n```\n\n```text\nout\n```\n";
        let b = blocks(doc).unwrap();
        assert_eq!(b.len(), 2);
        let s = script(&b, &[]);
        let lines: Vec<&str> = s.text.lines().collect();
        let at = lines.iter().position(|l| l.starts_with("acc pki key")).unwrap();
        assert_eq!(s.origin[at], Some((4, 1)));
        assert_eq!(s.origin[at + 1], Some((5, 1)));
        assert_eq!(s.fences, vec![3]);
        assert!(!s.text.contains("\nout\n"), "{}", s.text);
    }

    #[test]
    fn unlabelled_and_bash_fences_placeholders_and_default_ports_are_refused() {
        let errs = blocks("```\nx\n```\n```bash\ny\n```\n").unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].starts_with("1: a fence with language ''"), "{errs:?}");
        let errs = blocks("```sh\ncurl -u 'ACC_user:…' x   # fine: …\n```\n").unwrap_err();
        assert!(errs[0].starts_with("2: a placeholder"), "{errs:?}");
        assert!(blocks("```sh\necho x   # fine: …\n```\n").is_ok());
        let errs = blocks("```sh\nacc server init --data-dir srv \\\n  --domain CORP\n```\n").unwrap_err();
        assert!(errs[0].contains("--listen"), "{errs:?}");
        assert!(blocks("```sh\nacc site join --token t \\\n  --listen 127.0.0.1:8444\n```\n").is_ok());
        assert!(blocks("```sh\necho\n").unwrap_err()[0].contains("never closed"));
    }

    #[test]
    fn a_command_documented_to_fail_is_checked_with_its_message() {
        let doc = "```sh\n! acc x --y \\\n  z   # no\n# error: x: it's wrong … more\n```\n";
        let s = script(&blocks(doc).unwrap(), &[(8443, 40001)]);
        assert!(s.text.contains("if { acc x --y \\\n  z   # no\n} 2>"), "{}", s.text);
        assert!(s.text.contains(r"grep -qF -- 'x: it'\''s wrong' "), "{}", s.text);
        let s = script(&blocks("```sh\ncurl https://127.0.0.1:8443/x\n```\n").unwrap(), &[(8443, 40001)]);
        assert!(s.text.contains("https://127.0.0.1:40001/x"), "{}", s.text);
    }

    #[test]
    fn indented_fences_in_lists_keep_their_commands() {
        let doc = "- a step:\n  ```sh\n  echo one\n  ```\n";
        let b = blocks(doc).unwrap();
        assert_eq!(b[0].lines, vec![(3, "echo one".to_string())]);
    }
}
