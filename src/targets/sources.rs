//! Where target specs come from: command-line tokens, target files, standard input (read once,
//! whichever of `-` or `-i -` asks first), exclusion lists and files. Reading is synchronous and
//! happens before any name is resolved or any packet is sent.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::spec::{split_specs, SpecList};
use super::TargetError;

/// Every place the user named targets or exclusions, as given (flags and site config merged by
/// the caller).
#[derive(Debug, Clone, Default)]
pub struct TargetSources {
    /// Specs from the command line; `-` reads specs from standard input.
    pub targets: Vec<String>,
    /// Target files (`-i`, `-iL`); `-` is standard input.
    pub input_files: Vec<PathBuf>,
    /// Exclusion specs (`--exclude`, config `exclude`).
    pub exclude: Vec<String>,
    /// Exclusion files (`--exclude-file`, config `exclude_files`).
    pub exclude_files: Vec<PathBuf>,
    /// Scan only the first address of each host name.
    pub first_address: bool,
    /// Allow more than [`super::LARGE_LIMIT`] addresses (`--allow-large`).
    pub allow_large: bool,
}

/// Parsed specs, before name resolution.
#[derive(Debug, Clone, Default)]
pub struct Specs {
    /// What to scan.
    pub include: SpecList,
    /// What never to scan.
    pub exclude: SpecList,
    /// The sources as the scan metadata shows them (`10.0.0.0/24`, `-`, `file:wards.txt`).
    pub described: Vec<String>,
    /// Scan only the first address of each host name.
    pub first_address: bool,
    /// Allow more than [`super::LARGE_LIMIT`] addresses.
    pub allow_large: bool,
}

/// Standard input, read at most once: a second `-` reads nothing more.
struct Stdin<'a> {
    reader: &'a mut dyn Read,
    used: bool,
}

impl Stdin<'_> {
    fn read_source(&mut self, path: &Path) -> Result<(String, String), TargetError> {
        if path.as_os_str() == "-" {
            let mut s = String::new();
            if !self.used {
                self.used = true;
                self.reader
                    .read_to_string(&mut s)
                    .map_err(TargetError::Stdin)?;
            }
            return Ok((s, "standard input".to_string()));
        }
        let text = std::fs::read_to_string(path).map_err(|error| TargetError::ReadFile {
            path: path.to_path_buf(),
            error,
        })?;
        Ok((text, path.display().to_string()))
    }
}

impl TargetSources {
    /// Reads every source (files, standard input) and parses every spec. Names are not resolved
    /// yet. Errors name the token, and the file and line it came from.
    pub fn read_specs(&self) -> Result<Specs, TargetError> {
        self.read_specs_from(&mut std::io::stdin().lock())
    }

    /// [`Self::read_specs`] with standard input taken from `stdin`.
    pub fn read_specs_from(&self, stdin: &mut dyn Read) -> Result<Specs, TargetError> {
        let mut stdin = Stdin {
            reader: stdin,
            used: false,
        };
        let mut include = SpecList::for_targets(self.allow_large);
        let mut described = Vec::new();
        for t in &self.targets {
            if t == "-" {
                let (text, origin) = stdin.read_source(Path::new("-"))?;
                include.push_text(&text, &origin)?;
                described.push("-".to_string());
            } else {
                for tok in split_specs(t) {
                    include.push_token(tok)?;
                }
                described.push(t.clone());
            }
        }
        for f in &self.input_files {
            let (text, origin) = stdin.read_source(f)?;
            include.push_text(&text, &origin)?;
            described.push(format!("file:{}", f.display()));
        }
        let mut exclude = SpecList::default();
        let excl = |e: TargetError| TargetError::Exclusion(Box::new(e));
        for t in &self.exclude {
            for tok in split_specs(t) {
                exclude.push_token(tok).map_err(excl)?;
            }
        }
        for f in &self.exclude_files {
            let (text, origin) = stdin.read_source(f)?;
            exclude.push_text(&text, &origin).map_err(excl)?;
        }
        if include.is_empty() {
            return Err(TargetError::NoTargets);
        }
        Ok(Specs {
            include,
            exclude,
            described,
            first_address: self.first_address,
            allow_large: self.allow_large,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(targets: &[&str]) -> TargetSources {
        TargetSources {
            targets: targets.iter().map(|s| s.to_string()).collect(),
            ..TargetSources::default()
        }
    }

    #[test]
    fn stdin_is_read_once_and_files_name_their_lines() {
        let dir = std::env::temp_dir().join(format!("smb1scan-sources-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("t.txt");
        std::fs::write(&f, "10.0.0.1 # a\n10.0.0.2,host-b\n").unwrap();
        let src = TargetSources {
            targets: vec!["-".into(), "10.0.0.9".into()],
            input_files: vec![f.clone(), PathBuf::from("-")],
            ..TargetSources::default()
        };
        let s = src
            .read_specs_from(&mut "10.0.0.3\n10.0.0.4\n".as_bytes())
            .unwrap();
        // 2 from stdin (read once: the second `-` adds nothing), 1 token, 2 from the file.
        assert_eq!(s.include.ranges.len(), 5);
        assert_eq!(s.include.names, vec!["host-b".to_string()]);
        assert_eq!(
            s.described,
            vec![
                "-".to_string(),
                "10.0.0.9".into(),
                format!("file:{}", f.display()),
                "file:-".into()
            ]
        );
        std::fs::write(&f, "10.0.0.1\n\n10.0.0.300\n").unwrap();
        let e = TargetSources {
            input_files: vec![f.clone()],
            ..TargetSources::default()
        }
        .read_specs_from(&mut "".as_bytes())
        .unwrap_err();
        assert!(e.is_usage());
        let e = e.to_string();
        assert!(
            e.contains(&format!("{}, line 3", f.display())) && e.contains("`10.0.0.300`"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn errors_say_which_list_and_are_usage_errors() {
        let e = sources(&["10.0.0.1", "10.0.0.300"])
            .read_specs()
            .unwrap_err();
        assert!(
            e.is_usage() && e.to_string().contains("`10.0.0.300`"),
            "{e}"
        );
        let mut s = sources(&["10.0.0.1"]);
        s.exclude = vec!["nope!".into()];
        let e = s.read_specs().unwrap_err();
        assert!(e.is_usage(), "{e}");
        assert!(e.to_string().starts_with("exclusion: ") && e.to_string().contains("`nope!`"));
        let e = sources(&[]).read_specs().unwrap_err();
        assert!(matches!(e, TargetError::NoTargets) && e.is_usage());
        let mut s = sources(&["10.0.0.1"]);
        s.input_files = vec![PathBuf::from("/nonexistent/smb1scan-targets.txt")];
        let e = s.read_specs().unwrap_err();
        assert!(e.is_usage());
        assert!(
            e.to_string().contains("/nonexistent/smb1scan-targets.txt"),
            "{e}"
        );
    }

    #[test]
    fn a_failed_read_of_standard_input_is_a_runtime_error() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("gone"))
            }
        }
        let e = sources(&["-"]).read_specs_from(&mut Broken).unwrap_err();
        assert!(!e.is_usage());
        assert!(e.to_string().contains("standard input"), "{e}");
    }
}
