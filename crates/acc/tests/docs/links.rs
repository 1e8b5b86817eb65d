//! Links between the docs: a relative link names a file of the repository, and a `#anchor`
//! one of that file's headings (GitHub's slugs), so the split into `docs/` cannot leave a
//! link dangling.

use std::path::Path;

/// Every broken link of `file` (`LINE: what`), `root` being the repository.
pub fn check(root: &Path, file: &Path, text: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let mut fenced = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if fenced {
            continue;
        }
        for target in targets(line) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((target.as_str(), ""));
            let linked = if path.is_empty() { file.to_path_buf() } else { file.parent().unwrap().join(path) };
            let Ok(linked_text) = std::fs::read_to_string(&linked) else {
                if !linked.exists() {
                    errors.push(format!("{}: a link to '{target}', which does not exist", i + 1));
                }
                continue;
            };
            if !anchor.is_empty() && !slugs(&linked_text).iter().any(|s| s == anchor) {
                let linked = linked.canonicalize().unwrap_or(linked);
                let shown = linked.strip_prefix(root).unwrap_or(&linked).display().to_string();
                errors.push(format!("{}: a link to '{target}': {shown} has no heading '#{anchor}'", i + 1));
            }
        }
    }
    errors
}

/// The targets of `[text](target)` on a line (outside inline code).
fn targets(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '`' => in_code = !in_code,
            ']' if !in_code && chars.get(i + 1) == Some(&'(') => {
                if let Some(end) = chars[i + 2..].iter().position(|&c| c == ')') {
                    out.push(chars[i + 2..i + 2 + end].iter().collect());
                    i += 2 + end;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// GitHub's anchors for the headings of `text` (lower case, punctuation dropped, spaces to
/// hyphens, `-1`, `-2` for repeats).
pub fn slugs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut bases: Vec<String> = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        let Some(title) = line.strip_prefix('#').filter(|_| !fenced).map(|l| l.trim_start_matches('#'))
        else {
            continue;
        };
        if !title.starts_with(' ') {
            continue;
        }
        let slug: String = title
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let repeats = bases.iter().filter(|b| **b == slug).count();
        out.push(if repeats == 0 { slug.clone() } else { format!("{slug}-{repeats}") });
        bases.push(slug);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_get_githubs_anchors() {
        let s = slugs(
            "# acc — agent\n## `acc pki` reference\n```sh\n# not a heading\n```\n## Status\n## Status\n",
        );
        assert_eq!(s, ["acc--agent", "acc-pki-reference", "status", "status-1"]);
    }

    #[test]
    fn links_outside_code_are_found() {
        assert_eq!(
            targets("see [the guide](docs/pki.md#keys) and `[x](y)` [z](https://a)"),
            ["docs/pki.md#keys", "https://a"]
        );
    }
}
