//! The storefront: the built React app (`storefront/dist`) served at `/`, beside the API.
//!
//! At start the plugin reads every regular file under the configured directory into memory
//! (the build is a few hundred kilobytes; symbolic links are skipped, and a directory above
//! [`MAX_TOTAL_BYTES`] or without `index.html` stops the router with an error). A request is
//! answered only from that table, looked up by its exact path, so no request path can reach a
//! file outside the build, however it is encoded: there is no file-system access after start.
//!
//! - `GET`/`HEAD` of a built file: the file, with its content type, `nosniff`, and
//!   `Cache-Control` immutable for the hashed files under `/assets/`, `no-cache` otherwise.
//! - A path that names no file and has no extension (`/orders/<id>`, `/cart`): `index.html`,
//!   so client-side routes work as deep links. A missing file with an extension (or anything
//!   under `/assets/`): 404, so a stale script reference never gets HTML.
//! - The API's own paths (GraphQL, its WebSocket, the playground, probes, metrics) and other
//!   methods are passed on untouched.
//!
//! Compressible files are gzipped once at start and sent compressed to clients that accept it.
//! The page carries a Content-Security-Policy that allows scripts, styles and connections to
//! this origin only.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use hive_router::{
    http::{
        header::{
            ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, VARY,
            X_CONTENT_TYPE_OPTIONS,
        },
        HeaderName, HeaderValue, Method, StatusCode,
    },
    ntex::http::{Response, ResponseBuilder},
    plugins::{
        hooks::on_http_request::{OnHttpRequestHookFuture, OnHttpRequestHookPayload},
        plugin_trait::{RouterPlugin, StartHookPayload},
    },
};
use serde::Deserialize;

/// A storefront build larger than this is refused (it is held in memory).
pub const MAX_TOTAL_BYTES: u64 = 64 * 1024 * 1024;

/// Hashed file names never change content, so browsers may keep them for a year.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Everything else (the page names the hashed files) is revalidated on every use.
const REVALIDATE: &str = "no-cache";

/// Scripts, styles and API calls from this origin only; product images from anywhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data: https: http:; connect-src 'self'; font-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Files at least this big are sent gzipped when it makes them smaller.
const GZIP_MIN_BYTES: usize = 1024;

/// Serves the storefront's files.
pub struct Storefront {
    files: HashMap<String, StaticFile>,
    reserved_paths: Vec<String>,
}

/// `plugins.emporium_storefront.config`.
#[derive(Debug, Deserialize)]
pub struct StorefrontConfig {
    /// The built storefront (the directory holding `index.html`).
    pub dir: PathBuf,
    /// Paths the storefront never answers, with everything below them (`/graphql`, ...).
    pub reserved_paths: Vec<String>,
}

/// Why the storefront directory could not be served.
#[derive(Debug, thiserror::Error)]
pub enum StorefrontError {
    #[error("cannot read the storefront directory {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the storefront directory {0} has no index.html (build it with `npm run build` in storefront/)")]
    NoIndex(PathBuf),
    #[error("the storefront directory {0} holds more than {MAX_TOTAL_BYTES} bytes")]
    TooLarge(PathBuf),
}

/// One file of the build, ready to send.
struct StaticFile {
    content_type: &'static str,
    cache_control: &'static str,
    bytes: Vec<u8>,
    gzipped: Option<Vec<u8>>,
}

/// Reads every regular file under `dir`, keyed by its URL path (`/assets/index-abc.js`).
fn load_files(dir: &Path) -> Result<HashMap<String, StaticFile>, StorefrontError> {
    let mut files = HashMap::new();
    let mut total = 0u64;
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((directory, url_prefix)) = pending.pop() {
        let read_error = |source| StorefrontError::Read {
            path: directory.clone(),
            source,
        };
        for entry in std::fs::read_dir(&directory).map_err(read_error)? {
            let entry = entry.map_err(read_error)?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue; // Not UTF-8: no URL path can name it.
            };
            let kind = entry.file_type().map_err(read_error)?;
            let url_path = format!("{url_prefix}/{name}");
            if kind.is_dir() {
                pending.push((entry.path(), url_path));
            } else if kind.is_file() {
                let bytes =
                    std::fs::read(entry.path()).map_err(|source| StorefrontError::Read {
                        path: entry.path(),
                        source,
                    })?;
                total += bytes.len() as u64;
                if total > MAX_TOTAL_BYTES {
                    return Err(StorefrontError::TooLarge(dir.to_path_buf()));
                }
                files.insert(url_path.clone(), static_file(&url_path, bytes));
            }
        }
    }
    if !files.contains_key("/index.html") {
        return Err(StorefrontError::NoIndex(dir.to_path_buf()));
    }
    Ok(files)
}

fn static_file(url_path: &str, bytes: Vec<u8>) -> StaticFile {
    let content_type = content_type(url_path);
    let compressible = content_type.starts_with("text/")
        || content_type.starts_with("application/json")
        || content_type.starts_with("image/svg")
        || content_type.starts_with("application/manifest");
    let gzipped = if compressible && bytes.len() >= GZIP_MIN_BYTES {
        gzip(&bytes).filter(|zipped| zipped.len() < bytes.len())
    } else {
        None
    };
    StaticFile {
        content_type,
        cache_control: if url_path.starts_with("/assets/") {
            IMMUTABLE
        } else {
            REVALIDATE
        },
        bytes,
        gzipped,
    }
}

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

fn content_type(url_path: &str) -> &'static str {
    let extension = url_path
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase());
    match extension.as_deref() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("avif") => "image/avif",
        Some("gif") => "image/gif",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// What a request path gets.
#[derive(Debug, PartialEq, Eq)]
enum Answer<'a> {
    /// Not the storefront's: the router handles it.
    PassOn,
    File(&'a str),
    NotFound,
}

impl Storefront {
    fn answer_for<'a>(&'a self, path: &'a str) -> Answer<'a> {
        let is_reserved = self.reserved_paths.iter().any(|reserved| {
            path == reserved
                || path
                    .strip_prefix(reserved.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        });
        if is_reserved {
            return Answer::PassOn;
        }
        if path == "/" {
            return Answer::File("/index.html");
        }
        if let Some((key, _)) = self.files.get_key_value(path) {
            return Answer::File(key);
        }
        let last_segment = path.rsplit('/').next().unwrap_or_default();
        if path.starts_with("/assets/") || last_segment.contains('.') {
            Answer::NotFound
        } else {
            Answer::File("/index.html")
        }
    }

    fn file_response(&self, key: &str, accepts_gzip: bool, is_head: bool) -> Response {
        let Some(file) = self.files.get(key) else {
            return not_found();
        };
        let mut response = ResponseBuilder::new(StatusCode::OK);
        response
            .header(CONTENT_TYPE, HeaderValue::from_static(file.content_type))
            .header(CACHE_CONTROL, HeaderValue::from_static(file.cache_control))
            .header(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        if key == "/index.html" {
            response.header(
                HeaderName::from_static("content-security-policy"),
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            );
            response.header(
                HeaderName::from_static("referrer-policy"),
                HeaderValue::from_static("same-origin"),
            );
        }
        let body = match &file.gzipped {
            Some(zipped) => {
                response.header(VARY, HeaderValue::from_static("accept-encoding"));
                if accepts_gzip {
                    response.header(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                    zipped
                } else {
                    &file.bytes
                }
            }
            None => &file.bytes,
        };
        if is_head {
            response.finish()
        } else {
            response.body(body.clone())
        }
    }
}

fn not_found() -> Response {
    ResponseBuilder::new(StatusCode::NOT_FOUND)
        .header(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )
        .body("Not found")
}

fn accepts_gzip(payload: &OnHttpRequestHookPayload<'_>) -> bool {
    payload
        .router_http_request
        .headers()
        .get(ACCEPT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value.split(',').any(|coding| {
                let mut parts = coding.split(';');
                let name = parts.next().unwrap_or_default().trim();
                let refused = parts.any(|param| param.trim().replace(' ', "") == "q=0");
                (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
            })
        })
}

impl RouterPlugin for Storefront {
    plugin_setup!("emporium_storefront", StorefrontConfig, |config| {
        let files = load_files(&config.dir)?;
        let reserved_paths = config
            .reserved_paths
            .iter()
            .map(|path| path.trim_end_matches('/').to_owned())
            .filter(|path| !path.is_empty())
            .collect();
        Ok(Self {
            files,
            reserved_paths,
        })
    });

    fn on_http_request<'req>(
        &'req self,
        payload: OnHttpRequestHookPayload<'req>,
    ) -> OnHttpRequestHookFuture<'req> {
        Box::pin(async move {
            let method = payload.router_http_request.method();
            let is_head = method == Method::HEAD;
            if method != Method::GET && !is_head {
                return payload.proceed();
            }
            let response = match self.answer_for(payload.router_http_request.path()) {
                Answer::PassOn => return payload.proceed(),
                Answer::NotFound => not_found(),
                Answer::File(key) => self.file_response(key, accepts_gzip(&payload), is_head),
            };
            payload.end_with_response(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A built storefront in a fresh temp dir, and a secret file beside it.
    fn build_dir(test: &str) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("emporium-storefront-{test}-{}", std::process::id()));
        let dist = root.join("dist");
        std::fs::create_dir_all(dist.join("assets")).expect("temp dir is writable");
        std::fs::write(root.join("secret.txt"), "outside the build").expect("writable");
        std::fs::write(
            dist.join("index.html"),
            "<!doctype html><script type=module src=/assets/index-abc.js></script>",
        )
        .expect("writable");
        std::fs::write(
            dist.join("assets/index-abc.js"),
            "console.log(1);".repeat(200),
        )
        .expect("writable");
        std::fs::write(dist.join("robots.txt"), "User-agent: *").expect("writable");
        dist
    }

    fn storefront(test: &str) -> Storefront {
        Storefront {
            files: load_files(&build_dir(test)).expect("the build loads"),
            reserved_paths: vec!["/graphql".into(), "/health".into(), "/playground".into()],
        }
    }

    #[test]
    fn built_files_are_served_by_their_exact_path_with_their_type_and_caching() {
        let storefront = storefront("files");
        assert_eq!(
            storefront.answer_for("/assets/index-abc.js"),
            Answer::File("/assets/index-abc.js")
        );
        let script = &storefront.files["/assets/index-abc.js"];
        assert_eq!(script.content_type, "text/javascript; charset=utf-8");
        assert_eq!(script.cache_control, IMMUTABLE);
        assert!(script
            .gzipped
            .as_ref()
            .is_some_and(|z| z.len() < script.bytes.len()));
        assert_eq!(storefront.files["/index.html"].cache_control, REVALIDATE);
        assert_eq!(
            storefront.answer_for("/robots.txt"),
            Answer::File("/robots.txt")
        );
    }

    #[test]
    fn client_routes_get_the_page_and_missing_files_a_404() {
        let storefront = storefront("routes");
        assert_eq!(storefront.answer_for("/"), Answer::File("/index.html"));
        assert_eq!(
            storefront.answer_for("/orders/0b5e8c1e-1f1a-4c7e-9d43-3f0c9f1d2a10"),
            Answer::File("/index.html")
        );
        assert_eq!(storefront.answer_for("/cart"), Answer::File("/index.html"));
        assert_eq!(
            storefront.answer_for("/assets/gone-123.js"),
            Answer::NotFound
        );
        assert_eq!(storefront.answer_for("/assets/"), Answer::NotFound);
        assert_eq!(storefront.answer_for("/favicon.ico"), Answer::NotFound);
    }

    #[test]
    fn the_api_paths_are_passed_on() {
        let storefront = storefront("reserved");
        for path in [
            "/graphql",
            "/graphql/",
            "/graphql/sha256:abc",
            "/health",
            "/playground/x.js",
        ] {
            assert_eq!(storefront.answer_for(path), Answer::PassOn, "{path}");
        }
        assert_eq!(
            storefront.answer_for("/graphqlx"),
            Answer::File("/index.html")
        );
    }

    #[test]
    fn no_path_reaches_a_file_outside_the_build() {
        let storefront = storefront("traversal");
        for path in [
            "/../secret.txt",
            "/assets/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
            "/..%2fsecret.txt",
            "/assets/..\\..\\secret.txt",
            "//secret.txt",
            "/./index.html/../../secret.txt",
            "/../dist/index.html",
        ] {
            match storefront.answer_for(path) {
                Answer::File(key) => assert_eq!(key, "/index.html", "{path} served {key}"),
                Answer::NotFound => {}
                Answer::PassOn => panic!("{path} was passed on"),
            }
        }
        assert!(storefront.files.keys().all(|key| !key.contains("secret")));
        assert!(storefront
            .files
            .values()
            .all(|f| f.bytes != b"outside the build"));
    }

    #[test]
    fn a_directory_without_index_html_is_refused() {
        let dir = build_dir("noindex");
        std::fs::remove_file(dir.join("index.html")).expect("removable");
        assert!(matches!(load_files(&dir), Err(StorefrontError::NoIndex(_))));
        assert!(matches!(
            load_files(&dir.join("missing")),
            Err(StorefrontError::Read { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_out_of_the_build_are_not_served() {
        let dir = build_dir("symlink");
        let link = dir.join("assets/leak.txt");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(dir.join("../secret.txt"), &link).expect("symlink");
        let files = load_files(&dir).expect("the build loads");
        assert!(!files.contains_key("/assets/leak.txt"));
    }
}
