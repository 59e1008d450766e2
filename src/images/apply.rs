//! Builds, pushes and pins exactly what the plan says. Every build runs the one build script
//! (`build.sh`) through the host fan-out: on its builder host over SSH with the context streamed
//! as a tar, or on this machine; the registry password is the script's first line of stdin.

use std::path::Path;

use anyhow::Context as _;

use super::plan::{Action, ImagePlan, ImagesPlan, login, registry_of, shown};
use super::report::{ImageResult, ImagesReport};
use super::tool::{Build, Tool};
use super::{context, pin, registry};
use crate::catalog::Host;
use crate::files::write_if_changed;
use crate::remote::{HostScript, Input, converse, shell_words};
use crate::stage::Context;

const SCRIPT: &str = include_str!("build.sh");

/// One build on one host.
struct Job {
    host: Host,
    script: HostScript,
    /// The password line.
    input: Vec<u8>,
    /// The context packed for a builder host, streamed after the password line.
    context: Option<context::Packed>,
    index: usize,
    /// The work folder boma made for a build on this machine, removed with the job.
    _work: Option<tempfile::TempDir>,
}

pub fn apply(cx: &Context<'_>, plan: ImagesPlan) -> anyhow::Result<ImagesReport> {
    let mut results: Vec<ImageResult> = plan.images.iter().map(ImageResult::planned).collect();
    let mut jobs = Vec::new();
    if plan
        .images
        .iter()
        .any(|image| image.action == Action::Build)
    {
        let tool = plan.tool?;
        for (index, image) in plan.images.iter().enumerate() {
            if image.action == Action::Build {
                jobs.push(job(cx, &tool, plan.push, image, index)?);
            }
        }
    }
    if !jobs.is_empty() {
        let pool = cx.hosts()?;
        let finished = pool.run(
            cx.ui,
            &jobs,
            |job: &Job| &job.host,
            async |job, connection, step| {
                let input = Input {
                    head: &job.input,
                    tail: job.context.as_ref().map(|packed| packed.tar.path()),
                };
                let (transcript, finished) = converse(connection, &job.script, input, step).await;
                (job.index, transcript, finished)
            },
        )?;
        for (index, transcript, finished) in finished {
            for line in &transcript.details {
                cx.ui.debug(&format!("{}: {line}", results[index].name));
            }
            results[index].read(&transcript, finished);
        }
        for job in &jobs {
            let skipped = job.context.iter().flat_map(|packed| &packed.skipped);
            results[job.index].warnings.extend(skipped.map(|path| {
                format!("`{path}` is not a file, folder or symlink: left out of the context")
            }));
        }
    }
    // Pin: after a pushed build, or for an image already in its registry whose files lag.
    for (image, result) in plan.images.iter().zip(results.iter_mut()) {
        let digest = match (result.status.as_str(), image.action) {
            ("pushed", _) => result.digest.clone(),
            (_, Action::UpToDate) => image
                .in_registry
                .clone()
                .filter(|digest| !digest.is_empty()),
            _ => continue,
        };
        for bump in image
            .bumps
            .iter()
            .filter(|bump| bump.behind || result.status == "pushed")
        {
            let text = pin::read(&bump.path)?;
            if let Some((text, _)) = pin::bump(&text, &image.image, &image.tag, digest.as_deref()) {
                write_if_changed(&bump.path, text.as_bytes())?;
                result.bumped.push(shown(cx.catalog, &bump.path));
            }
        }
    }
    Ok(ImagesReport {
        mode: "build",
        images: results,
    })
}

/// The build script and its input for one image.
fn job(
    cx: &Context<'_>,
    tool: &Tool,
    push: bool,
    image: &ImagePlan,
    index: usize,
) -> anyhow::Result<Job> {
    let container = &image.container;
    let remote = container.builder.is_some();
    let host = match &container.builder {
        Some(name) => cx
            .catalog
            .hosts
            .get(name)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("builder host `{name}` is not in the catalog"))?,
        None => crate::remote::this_machine(),
    };
    // Here boma makes the private work folder (0700) and removes it when the job is dropped,
    // which spares the script two processes; a builder's script makes its own.
    let made = if remote {
        None
    } else {
        Some(
            crate::files::private_dir("boma-build.", &std::env::temp_dir())
                .context("cannot make a work folder for the build")?,
        )
    };
    let work = match &made {
        Some(folder) => folder.path().display().to_string(),
        None => crate::remote::work_folder("boma-build"),
    };
    let context_dir = if remote {
        format!("{work}/context")
    } else {
        absolute(&container.context)
    };
    let file = format!("{context_dir}/{}", container.file);
    let mut labels = vec![
        (
            "org.opencontainers.image.version".to_string(),
            container.version.clone(),
        ),
        (
            "org.opencontainers.image.revision".to_string(),
            image.source.revision.clone(),
        ),
        (
            "org.opencontainers.image.created".to_string(),
            image.source.created(),
        ),
    ];
    if let Some(remote) = &image.source.remote {
        labels.push((
            "org.opencontainers.image.source".to_string(),
            remote.clone(),
        ));
    }
    let args: Vec<(String, String)> = container
        .args
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let iidfile = format!("{work}/iid");
    let build = tool.build(&Build {
        reference: &image.reference,
        file: &file,
        context: &context_dir,
        timestamp: image.source.time,
        labels: &labels,
        args: &args,
        iidfile: &iidfile,
    });
    let (registry_host, _) = registry::split(&container.image);
    let credentials = registry_of(cx.catalog, registry_host)
        .filter(|_| push)
        .map(|registry| login(cx.catalog, registry))
        .transpose()?;
    let tls_verify = credentials.as_ref().is_none_or(|(_, _, tls)| *tls);
    let auth = format!("{work}/auth.json");
    let (mut login_argv, mut password) = (Vec::new(), String::new());
    if let Some((Some(user), Some(secret), _)) = &credentials {
        if secret.expose().contains(['\n', '\r']) {
            anyhow::bail!("the password of the registry {registry_host} has a line break");
        }
        login_argv = tool.login(registry_host, user, Path::new(&auth), tls_verify);
        password = secret.expose().to_string();
    }
    let push_argv = if push {
        let auth = (!login_argv.is_empty()).then_some(Path::new(&auth));
        tool.push(
            &image.reference,
            auth,
            &format!("{work}/digest"),
            tls_verify,
        )
    } else {
        Vec::new()
    };
    let script = HostScript::new(SCRIPT)
        .set("tool", tool.kind.program())
        .set("work", &work)
        .set("made", if made.is_some() { "yes" } else { "no" })
        .set("extract", if remote { "yes" } else { "no" })
        .set("registry", registry_host)
        .set("build", shell_words(&build))
        .set("login", shell_words(&login_argv))
        .set("push", shell_words(&push_argv));
    let input = format!("{password}\n").into_bytes();
    let context = remote
        .then(|| context::tar(&container.context))
        .transpose()?;
    Ok(Job {
        host,
        script,
        input,
        context,
        index,
        _work: made,
    })
}

fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt as _;

    use crate::remote::{HostScript, Transcript, shell_words};

    /// The build script on this machine with a stand-in tool that fails its first build the way
    /// the OCI runtime does under load: the build runs once more and succeeds; any other failure
    /// is not retried.
    #[test]
    fn a_runtime_that_cannot_seal_its_memfd_gets_one_more_build() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let tool = dir.path().join("fake-tool");
        let marker = dir.path().join("tried");
        std::fs::write(
            &tool,
            format!(
                "#!/bin/sh\nif [ ! -e {marker} ]; then : > {marker}; echo 'Close_Fd sealing memfd copy: Device or resource busy'; exit 1; fi\n\
                 echo built; printf sha256:abc > \"$1\"\n",
                marker = marker.display()
            ),
        )?;
        let mut permissions = std::fs::metadata(&tool)?.permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&tool, permissions)?;
        let work = dir.path().join("work");
        let run = |script: HostScript| -> std::io::Result<Transcript> {
            // Its own process group, as a local build runs (the script's connection watcher
            // stops only that group).
            let mut child = std::process::Command::new("sh")
                .args(["-c", &script.text()])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .process_group(0)
                .spawn()?;
            if let Some(mut stdin) = child.stdin.take() {
                std::io::Write::write_all(&mut stdin, b"\n")?;
            }
            // A script that never closes its stdout fails the test in a minute, not CI's hours.
            let group = child.id().to_string();
            let (done, finished) = std::sync::mpsc::channel::<()>();
            let guard = std::thread::spawn(move || {
                let timed_out = finished
                    .recv_timeout(std::time::Duration::from_secs(60))
                    .is_err();
                if timed_out {
                    let _ = std::process::Command::new("kill")
                        .args(["-KILL", &format!("-{group}")])
                        .status();
                }
                timed_out
            });
            let output = child.wait_with_output()?;
            let _ = done.send(());
            assert!(
                !guard.join().unwrap_or(true),
                "the build script kept its stdout open for a minute"
            );
            let mut transcript = script.transcript();
            for line in String::from_utf8_lossy(&output.stdout).lines() {
                transcript.take(line);
            }
            Ok(transcript)
        };
        let argv = [
            tool.display().to_string(),
            format!("{}/iid", work.display()),
        ];
        let script = || {
            HostScript::new(super::SCRIPT)
                .set("tool", "sh")
                .set("work", work.display())
                .set("made", "no")
                .set("extract", "no")
                .set("registry", "127.0.0.1:1")
                .set("build", shell_words(&argv))
                .set("login", "")
                .set("push", "")
        };
        let transcript = run(script())?;
        assert_eq!(
            transcript.result.as_ref().map(|(word, _)| word.as_str()),
            Some("built"),
            "{transcript:?}"
        );
        assert_eq!(
            transcript.facts.get("image-id").map(String::as_str),
            Some("sha256:abc")
        );
        assert!(
            transcript
                .details
                .iter()
                .any(|line| line.contains("building once more"))
        );
        assert!(!work.exists(), "the work folder is removed");

        // Any other failure is the build's: no second try.
        std::fs::write(
            &tool,
            "#!/bin/sh\necho 'COPY failed: no such file'; exit 1\n",
        )?;
        let transcript = run(script())?;
        assert_eq!(
            transcript.result.as_ref().map(|(word, _)| word.as_str()),
            Some("failed")
        );
        assert!(
            !transcript
                .details
                .iter()
                .any(|line| line.contains("once more"))
        );
        Ok(())
    }
}
