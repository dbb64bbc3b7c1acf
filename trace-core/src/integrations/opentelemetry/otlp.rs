//! The OTLP exporter `OtelSetup` builds (feature `otlp`): the endpoint
//! checked before `opentelemetry-otlp` reads it, and TLS (feature
//! `otlp-tls`) for both transports, with the certificates of
//! `OTEL_EXPORTER_OTLP_CERTIFICATE`, `_CLIENT_CERTIFICATE` and
//! `_CLIENT_KEY`, which `opentelemetry-otlp` does not read.

use super::setup::{OtlpProtocol, SetupError};
use crate::sampling::EnvVarError;

/// Where spans go, as the exporter will resolve it, and what TLS needs
/// (read only with `otlp-tls`: without it, only checked).
#[derive(Debug)]
#[cfg_attr(not(feature = "otlp-tls"), allow(dead_code))]
struct Target {
    https: bool,
    /// PEM: the CA to trust beside the system's roots.
    ca: Option<Vec<u8>>,
    /// PEM: the client certificate and its key, for mutual TLS.
    identity: Option<(Vec<u8>, Vec<u8>)>,
}

/// The first of these variables that is set and not empty.
fn first_set(variables: [&'static str; 2]) -> Result<Option<(&'static str, String)>, EnvVarError> {
    for variable in variables {
        if let Some(value) = EnvVarError::read(variable)?
            && !value.trim().is_empty()
        {
            return Ok(Some((variable, value.trim().to_owned())));
        }
    }
    Ok(None)
}

/// Whether an endpoint is `https`: it must be `http://` or `https://` with
/// a host (gRPC also takes a bare `host:port`, which is `https` unless
/// `OTEL_EXPORTER_OTLP_INSECURE` is `true`, as the OTLP exporter
/// specification says). Anything else is an error naming where it came
/// from, in the user's words.
fn is_https(
    source: &'static str,
    endpoint: &str,
    protocol: OtlpProtocol,
) -> Result<bool, EnvVarError> {
    let not_a_url = || {
        EnvVarError::new(
            source,
            Some(endpoint),
            "expected a URL such as http://collector:4318 or https://collector:4318",
        )
    };
    let uri: http::Uri = endpoint.parse().map_err(|_| not_a_url())?;
    if uri.host().is_none_or(str::is_empty) {
        return Err(not_a_url());
    }
    match uri.scheme_str() {
        Some("https") => Ok(true),
        Some("http") => Ok(false),
        // `collector:4317`: the scheme comes from the insecure flag.
        None if protocol == OtlpProtocol::Grpc && uri.port().is_some() => {
            let insecure = first_set([
                "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
                "OTEL_EXPORTER_OTLP_INSECURE",
            ])?;
            Ok(!insecure.is_some_and(|(_, v)| v.eq_ignore_ascii_case("true")))
        }
        _ => Err(not_a_url()),
    }
}

/// A PEM file a variable names.
fn pem_file(variable: &'static str, path: &str) -> Result<Vec<u8>, EnvVarError> {
    let bytes = std::fs::read(path).map_err(|error| {
        EnvVarError::new(variable, Some(path), format!("cannot read it: {error}"))
    })?;
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(EnvVarError::new(variable, Some(path), "not a PEM file"));
    }
    Ok(bytes)
}

fn target(protocol: OtlpProtocol, explicit: Option<&str>) -> Result<Target, EnvVarError> {
    let (source, endpoint) = match explicit {
        Some(endpoint) => ("OtelSetup::otlp_endpoint", endpoint.to_owned()),
        // Unset: the exporter's default, plain http on this machine.
        None => first_set([
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ])?
        .unwrap_or_default(),
    };
    let https = !source.is_empty() && is_https(source, &endpoint, protocol)?;
    let file = |variables| match first_set(variables)? {
        Some((variable, path)) => pem_file(variable, &path).map(|pem| Some((variable, pem))),
        None => Ok(None),
    };
    let ca = file([
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
    ])?;
    let certificate = file([
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    ])?;
    let key = file([
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
        "OTEL_EXPORTER_OTLP_CLIENT_KEY",
    ])?;
    let identity = match (certificate, key) {
        (Some((_, certificate)), Some((_, key))) => Some((certificate, key)),
        (Some((variable, _)), None) | (None, Some((variable, _))) => {
            return Err(EnvVarError::new(
                variable,
                None,
                "mutual TLS needs both OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY",
            ));
        }
        (None, None) => None,
    };
    #[cfg(not(feature = "otlp-tls"))]
    {
        let needs = if https {
            Some((source, Some(endpoint.as_str())))
        } else {
            ca.as_ref().map(|(variable, _)| (*variable, None))
        };
        if let Some((variable, value)) = needs {
            return Err(EnvVarError::new(
                variable,
                value,
                "TLS needs trace-core's feature `otlp-tls`",
            ));
        }
        if identity.is_some() {
            return Err(EnvVarError::new(
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                None,
                "TLS needs trace-core's feature `otlp-tls`",
            ));
        }
    }
    Ok(Target {
        https,
        ca: ca.map(|(_, pem)| pem),
        identity,
    })
}

/// The exporter for `protocol` (else `OTEL_EXPORTER_OTLP_PROTOCOL`), to
/// `endpoint` (else the variables the exporter reads).
pub(super) fn exporter(
    protocol: OtlpProtocol,
    endpoint: Option<String>,
) -> Result<opentelemetry_otlp::SpanExporter, SetupError> {
    use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig as _};

    #[cfg_attr(not(feature = "otlp-tls"), allow(unused_variables))]
    let target = target(protocol, endpoint.as_deref())?;
    let exporter = match protocol {
        OtlpProtocol::Grpc => {
            let mut builder = SpanExporter::builder().with_tonic();
            if let Some(endpoint) = endpoint {
                builder = builder.with_endpoint(endpoint);
            }
            #[cfg(feature = "otlp-tls")]
            if target.https {
                use opentelemetry_otlp::{
                    WithTonicConfig as _,
                    tonic_types::transport::{Certificate, ClientTlsConfig, Identity},
                };
                // The system's roots: opentelemetry-otlp's default TLS has
                // none, so no public collector would be trusted.
                let mut tls = ClientTlsConfig::new().with_enabled_roots();
                if let Some(ca) = &target.ca {
                    tls = tls.ca_certificate(Certificate::from_pem(ca));
                }
                if let Some((certificate, key)) = &target.identity {
                    tls = tls.identity(Identity::from_pem(certificate, key));
                }
                builder = builder.with_tls_config(tls);
            }
            builder.build()
        }
        OtlpProtocol::HttpProtobuf => {
            let mut builder = SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary);
            if let Some(endpoint) = endpoint {
                builder = builder.with_endpoint(endpoint);
            }
            #[cfg(feature = "otlp-tls")]
            if target.ca.is_some() || target.identity.is_some() {
                use opentelemetry_otlp::WithHttpConfig as _;
                builder = builder.with_http_client(tls::http_client(&target)?);
            }
            builder.build()
        }
    };
    exporter.map_err(|error| SetupError::Exporter(error.to_string()))
}

#[cfg(feature = "otlp-tls")]
mod tls {
    use super::{SetupError, Target};

    /// The HTTP exporter's client, trusting the configured CA beside the
    /// system's roots, with the client identity if any, and the export
    /// timeout. Built on a thread of its own: a blocking client must not be
    /// made inside an async runtime, where `install` may be called.
    pub(super) fn http_client(target: &Target) -> Result<reqwest::blocking::Client, SetupError> {
        let ca = target.ca.clone();
        let identity = target.identity.clone();
        let timeout = export_timeout();
        let built = std::thread::spawn(move || {
            let mut builder = reqwest::blocking::Client::builder().timeout(timeout);
            if let Some(ca) = ca {
                builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&ca)?);
            }
            if let Some((certificate, key)) = identity {
                let pem = [certificate, key].concat();
                builder = builder.identity(reqwest::Identity::from_pem(&pem)?);
            }
            builder.build()
        })
        .join()
        .map_err(|_| SetupError::Exporter("building the HTTP client panicked".to_owned()))?;
        built.map_err(|error| SetupError::Exporter(format!("the TLS certificates: {error}")))
    }

    /// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` or `OTEL_EXPORTER_OTLP_TIMEOUT`
    /// (whole milliseconds, checked before), else the specification's 10 s.
    fn export_timeout() -> std::time::Duration {
        [
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ]
        .into_iter()
        .find_map(|variable| std::env::var(variable).ok()?.trim().parse().ok())
        .map_or(
            std::time::Duration::from_secs(10),
            std::time::Duration::from_millis,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_urls() {
        use OtlpProtocol::{Grpc, HttpProtobuf};
        for (endpoint, protocol, https) in [
            ("http://127.0.0.1:4318", HttpProtobuf, Some(false)),
            (
                "https://collector.example:4318/v1/traces",
                HttpProtobuf,
                Some(true),
            ),
            ("https://collector.example", Grpc, Some(true)),
            ("collector.example:4317", Grpc, Some(true)),
            ("not-a-url", Grpc, None),
            ("not-a-url", HttpProtobuf, None),
            ("collector.example:4317", HttpProtobuf, None),
            ("ftp://collector.example", Grpc, None),
            ("http://", HttpProtobuf, None),
            ("", HttpProtobuf, None),
        ] {
            let got = is_https("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, protocol);
            assert_eq!(got.as_ref().ok().copied(), https, "{endpoint} {protocol:?}");
            if let Err(error) = got {
                let message = error.to_string();
                assert!(message.contains(&format!("{endpoint:?}")), "{message}");
                assert!(!message.contains("https://not-a-url"), "{message}");
                assert_eq!(
                    message.matches("OTEL_EXPORTER_OTLP_ENDPOINT").count(),
                    1,
                    "{message}"
                );
            }
        }
    }

    #[test]
    fn a_certificate_must_be_a_pem_file() {
        let error = pem_file("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem").unwrap_err();
        assert!(error.to_string().contains("cannot read it"), "{error}");
        let path = std::env::temp_dir().join(format!("trace-core-not-pem-{}", std::process::id()));
        std::fs::write(&path, b"hello").unwrap();
        let error = pem_file("OTEL_EXPORTER_OTLP_CERTIFICATE", path.to_str().unwrap()).unwrap_err();
        assert!(error.to_string().contains("not a PEM file"), "{error}");
        std::fs::remove_file(path).unwrap();
    }

    /// Without the feature, an `https://` endpoint is refused at set-up,
    /// naming the feature, whichever the transport.
    #[cfg(not(feature = "otlp-tls"))]
    #[test]
    fn https_needs_the_feature() {
        for protocol in [OtlpProtocol::Grpc, OtlpProtocol::HttpProtobuf] {
            let error = target(protocol, Some("https://collector.example:4317")).unwrap_err();
            let message = error.to_string();
            assert!(message.contains("otlp-tls"), "{message}");
            assert!(
                message.contains("https://collector.example:4317"),
                "{message}"
            );
        }
        assert!(target(OtlpProtocol::Grpc, Some("http://127.0.0.1:4317")).is_ok());
    }
}
