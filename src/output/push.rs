//! The proposal as a branch: one commit on top of the scanned commit, adding (or fixing) the
//! Procfile, pushed to a remote with git2.
//!
//! The commit's tree is the scanned commit's tree with the new blobs put in with
//! `TreeBuilder`: no work tree, no checkout, nothing else can change. Two guards keep the tool
//! from destroying work that is not its own:
//! - the scanned tree must hold, at each path, exactly what the proposal was made from (no file
//!   for an added Procfile, the same bytes for a port fix);
//! - an existing branch is replaced only when its tip is a commit this tool made (it carries the
//!   [`TRAILER`] and has one parent). Re-running rewrites that single commit, so the branch
//!   never grows; when nothing changed, nothing is pushed.

use git2::{Cred, CredentialType, Direction, FetchOptions, ObjectType, Oid, PushOptions, RemoteCallbacks, Repository};
use tracing::{debug, info, info_span};

use super::procfile_pr::{ChangeKind, FileChange, TRAILER};

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("git: {0}")]
    Git(String),
    #[error("invalid branch name {0:?}")]
    InvalidBranch(String),
    #[error("invalid --author {0:?}: expected \"Name <email>\"")]
    InvalidAuthor(String),
    #[error("no author: pass --author \"Name <email>\" or set git config user.name and user.email")]
    NoAuthor,
    #[error("refusing to write {path}: {reason}; repo-scanner never overwrites a Procfile it did not write")]
    ForeignProcfile { path: String, reason: String },
    #[error(
        "refusing to update branch {branch}: its tip {commit} was not made by repo-scanner ({reason}); \
         choose another --branch or delete that one"
    )]
    ForeignBranch { branch: String, commit: String, reason: String },
    #[error("the remote rejected the update of refs/heads/{branch}: {message}")]
    Rejected { branch: String, message: String },
    #[error("nothing to push: the proposal is empty")]
    Empty,
}

fn git_err(e: git2::Error) -> PushError {
    PushError::Git(e.message().to_string())
}

/// Who the commit is by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub name: String,
    pub email: String,
}

impl Author {
    /// `Name <email>`.
    pub fn parse(s: &str) -> Result<Author, PushError> {
        let bad = || PushError::InvalidAuthor(s.to_string());
        let (name, rest) = s.split_once('<').ok_or_else(bad)?;
        let email = rest.strip_suffix('>').ok_or_else(bad)?.trim();
        let name = name.trim();
        if name.is_empty() || email.is_empty() || email.contains(['<', '>']) {
            return Err(bad());
        }
        Ok(Author { name: name.to_string(), email: email.to_string() })
    }

    /// `--author` when given, else git config's user.name and user.email.
    pub fn resolve(flag: Option<&str>) -> Result<Author, PushError> {
        if let Some(f) = flag {
            return Author::parse(f);
        }
        let config = git2::Config::open_default().map_err(|_| PushError::NoAuthor)?;
        let name = config.get_string("user.name").map_err(|_| PushError::NoAuthor)?;
        let email = config.get_string("user.email").map_err(|_| PushError::NoAuthor)?;
        if name.trim().is_empty() || email.trim().is_empty() {
            return Err(PushError::NoAuthor);
        }
        Ok(Author { name, email })
    }
}

/// Where and as whom to push.
#[derive(Debug, Clone)]
pub struct PushTarget<'a> {
    pub remote_url: &'a str,
    pub branch: &'a str,
    /// A token for https remotes (sent as `x-access-token`); ssh uses the agent.
    pub token: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The branch was created or rewritten; `replaced` is its previous tip.
    Pushed { commit: String, replaced: Option<String> },
    /// The branch already holds this change on this commit: nothing was pushed.
    UpToDate { commit: String },
}

impl PushOutcome {
    pub fn commit(&self) -> &str {
        match self {
            PushOutcome::Pushed { commit, .. } | PushOutcome::UpToDate { commit } => commit,
        }
    }
}

/// Commits `changes` on top of `base` and pushes the commit to `target.branch`.
pub fn commit_and_push(
    repo: &Repository,
    base: Oid,
    changes: &[FileChange],
    author: &Author,
    message: &str,
    target: &PushTarget<'_>,
) -> Result<PushOutcome, PushError> {
    let span = info_span!("push", remote = target.remote_url, branch = target.branch);
    let _enter = span.enter();
    if changes.is_empty() {
        return Err(PushError::Empty);
    }
    let refname = format!("refs/heads/{}", target.branch);
    if !git2::Reference::is_valid_name(&refname) {
        return Err(PushError::InvalidBranch(target.branch.to_string()));
    }
    let base_commit = repo.find_commit(base).map_err(git_err)?;
    let base_tree = base_commit.tree().map_err(git_err)?;
    let mut tree_id = base_tree.id();
    for change in changes {
        check_base(repo, &base_tree, change)?;
        let blob = repo.blob(change.content.as_bytes()).map_err(git_err)?;
        let parts: Vec<&str> = change.path.split('/').collect();
        let current = repo.find_tree(tree_id).map_err(git_err)?;
        tree_id = put(repo, Some(&current), &parts, blob)?;
    }

    let existing = remote_tip(repo, target, &refname)?;
    if let Some(tip) = existing {
        let commit = repo.find_commit(tip).map_err(git_err)?;
        let foreign = |reason: &str| PushError::ForeignBranch {
            branch: target.branch.to_string(),
            commit: tip.to_string(),
            reason: reason.to_string(),
        };
        if !commit.message_raw().unwrap_or_default().lines().any(|l| l.trim() == TRAILER) {
            return Err(foreign(&format!("no `{TRAILER}` trailer")));
        }
        if commit.parent_count() != 1 {
            return Err(foreign("it is not a single commit on top of a parent"));
        }
        if commit.tree_id() == tree_id && commit.parent_id(0).ok() == Some(base) {
            info!(commit = %tip, "branch already up to date");
            return Ok(PushOutcome::UpToDate { commit: tip.to_string() });
        }
    }

    let sig = git2::Signature::now(&author.name, &author.email).map_err(git_err)?;
    let tree = repo.find_tree(tree_id).map_err(git_err)?;
    let new = repo.commit(None, &sig, &sig, message, &tree, &[&base_commit]).map_err(git_err)?;
    repo.reference(&refname, new, true, "repo-scanner: suggested Procfile").map_err(git_err)?;

    let mut remote = repo.remote_anonymous(target.remote_url).map_err(git_err)?;
    let rejected = std::cell::RefCell::new(None::<String>);
    {
        let mut callbacks = callbacks(target.token);
        callbacks.push_update_reference(|name, status| {
            if let Some(msg) = status {
                debug!(name, msg, "push rejected");
                *rejected.borrow_mut() = Some(msg.to_string());
            }
            Ok(())
        });
        let mut opts = PushOptions::new();
        opts.remote_callbacks(callbacks);
        remote.push(&[format!("+{refname}:{refname}").as_str()], Some(&mut opts)).map_err(git_err)?;
    }
    if let Some(message) = rejected.into_inner() {
        return Err(PushError::Rejected { branch: target.branch.to_string(), message });
    }
    info!(commit = %new, "pushed");
    Ok(PushOutcome::Pushed { commit: new.to_string(), replaced: existing.map(|o| o.to_string()) })
}

/// The scanned tree must hold what the proposal was made from.
fn check_base(repo: &Repository, base: &git2::Tree<'_>, change: &FileChange) -> Result<(), PushError> {
    let entry = base.get_path(std::path::Path::new(&change.path)).ok();
    let foreign = |reason: &str| PushError::ForeignProcfile { path: change.path.clone(), reason: reason.to_string() };
    match (change.kind, entry) {
        (ChangeKind::Add, None) => Ok(()),
        (ChangeKind::Add, Some(_)) => Err(foreign("the scanned commit already has one")),
        (ChangeKind::FixPort, None) => Err(foreign("the scanned commit has no such file")),
        (ChangeKind::FixPort, Some(e)) => {
            if e.kind() != Some(ObjectType::Blob) || e.filemode() == 0o120000 {
                return Err(foreign("it is not a regular file"));
            }
            let blob = repo.find_blob(e.id()).map_err(git_err)?;
            if Some(blob.content()) != change.original.as_deref().map(str::as_bytes) {
                return Err(foreign("its content is not what the proposal was made from"));
            }
            Ok(())
        }
    }
}

/// `tree` with `blob` at `parts` (a path split on `/`), written; returns the new tree's id.
fn put(repo: &Repository, tree: Option<&git2::Tree<'_>>, parts: &[&str], blob: Oid) -> Result<Oid, PushError> {
    let mut builder = repo.treebuilder(tree).map_err(git_err)?;
    match parts {
        [] => Err(PushError::Git("empty path".into())),
        [name] => {
            builder.insert(name, blob, 0o100644).map_err(git_err)?;
            builder.write().map_err(git_err)
        }
        [dir, rest @ ..] => {
            let sub = match tree.and_then(|t| t.get_name(dir)) {
                Some(e) if e.kind() == Some(ObjectType::Tree) => Some(repo.find_tree(e.id()).map_err(git_err)?),
                Some(_) => return Err(PushError::Git(format!("{dir} is not a directory"))),
                None => None,
            };
            let id = put(repo, sub.as_ref(), rest, blob)?;
            builder.insert(dir, id, 0o040000).map_err(git_err)?;
            builder.write().map_err(git_err)
        }
    }
}

/// The remote's tip of `refname`, fetched so it can be inspected; None when the branch is new.
fn remote_tip(repo: &Repository, target: &PushTarget<'_>, refname: &str) -> Result<Option<Oid>, PushError> {
    let mut remote = repo.remote_anonymous(target.remote_url).map_err(git_err)?;
    let tip = {
        let conn = remote.connect_auth(Direction::Fetch, Some(callbacks(target.token)), None).map_err(git_err)?;
        let heads = conn.list().map_err(git_err)?;
        heads.iter().find(|h| h.name() == refname).map(|h| h.oid())
    };
    let Some(tip) = tip else { return Ok(None) };
    if repo.find_commit(tip).is_err() {
        let mut opts = FetchOptions::new();
        opts.remote_callbacks(callbacks(target.token));
        let spec = format!("+{refname}:refs/repo-scanner/existing");
        remote.fetch(&[spec.as_str()], Some(&mut opts), None).map_err(git_err)?;
    }
    Ok(Some(tip))
}

/// Credentials: the token for https (as GitHub expects it), the ssh agent for ssh; never more
/// than a few attempts, so a wrong token fails instead of looping.
fn callbacks(token: Option<&str>) -> RemoteCallbacks<'_> {
    let mut cb = RemoteCallbacks::new();
    let mut attempts = 0;
    cb.credentials(move |_url, username, allowed| {
        attempts += 1;
        if attempts > 3 {
            return Err(git2::Error::from_str("authentication failed"));
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            if let Some(t) = token {
                return Cred::userpass_plaintext("x-access-token", t);
            }
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            return Cred::ssh_key_from_agent(username.unwrap_or("git"));
        }
        Cred::default()
    });
    cb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authors_parse() {
        assert_eq!(
            Author::parse("Ada Lovelace <ada@example.com>").ok(),
            Some(Author { name: "Ada Lovelace".into(), email: "ada@example.com".into() })
        );
        assert!(Author::parse("ada@example.com").is_err());
        assert!(Author::parse("<a@b>").is_err());
    }
}
