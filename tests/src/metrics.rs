//! An SDK meter provider with the in-memory exporter, and what it holds
//! read back as plain points.

use std::collections::BTreeMap;

use opentelemetry_sdk::metrics::{
    InMemoryMetricExporter, SdkMeterProvider,
    data::{AggregatedMetrics, MetricData},
};

/// A provider whose metrics the test reads back.
#[derive(Debug)]
pub struct Meters {
    /// The provider to give the adapters' `Metrics`.
    pub provider: SdkMeterProvider,
    exporter: InMemoryMetricExporter,
}

/// One series of one instrument, as the SDK aggregated it (cumulative).
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The instrument's name.
    pub name: String,
    /// Its unit.
    pub unit: String,
    /// The series' attributes, as text.
    pub attributes: BTreeMap<String, String>,
    /// A histogram's count of measurements.
    pub count: u64,
    /// A histogram's sum, or a sum's value.
    pub sum: f64,
    /// A histogram's bucket bounds.
    pub bounds: Vec<f64>,
    /// A histogram's bucket counts.
    pub buckets: Vec<u64>,
}

impl Point {
    /// The value of one attribute.
    #[must_use]
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

impl Default for Meters {
    fn default() -> Self {
        Self::new()
    }
}

impl Meters {
    /// A provider with the in-memory exporter.
    #[must_use]
    pub fn new() -> Self {
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_periodic_exporter(exporter.clone())
            .build();
        Self { provider, exporter }
    }

    /// Every series now.
    ///
    /// # Panics
    ///
    /// When the SDK cannot flush, or holds an instrument kind not read here.
    #[must_use]
    pub fn points(&self) -> Vec<Point> {
        self.exporter.reset();
        self.provider.force_flush().unwrap();
        let exported = self.exporter.get_finished_metrics().unwrap();
        let mut points = Vec::new();
        let Some(last) = exported.last() else {
            return points;
        };
        for scope in last.scope_metrics() {
            for metric in scope.metrics() {
                let point = |attributes: BTreeMap<String, String>| Point {
                    name: metric.name().to_owned(),
                    unit: metric.unit().to_owned(),
                    attributes,
                    count: 0,
                    sum: 0.0,
                    bounds: Vec::new(),
                    buckets: Vec::new(),
                };
                let attributes = |kvs: &mut dyn Iterator<Item = &opentelemetry::KeyValue>| {
                    kvs.map(|kv| (kv.key.to_string(), kv.value.to_string()))
                        .collect::<BTreeMap<_, _>>()
                };
                match metric.data() {
                    AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                        for p in h.data_points() {
                            points.push(Point {
                                count: p.count(),
                                sum: p.sum(),
                                bounds: p.bounds().collect(),
                                buckets: p.bucket_counts().collect(),
                                ..point(attributes(&mut p.attributes()))
                            });
                        }
                    }
                    AggregatedMetrics::U64(MetricData::Histogram(h)) => {
                        for p in h.data_points() {
                            #[allow(clippy::cast_precision_loss)]
                            let sum = p.sum() as f64;
                            points.push(Point {
                                count: p.count(),
                                sum,
                                bounds: p.bounds().collect(),
                                buckets: p.bucket_counts().collect(),
                                ..point(attributes(&mut p.attributes()))
                            });
                        }
                    }
                    AggregatedMetrics::I64(MetricData::Sum(s)) => {
                        for p in s.data_points() {
                            #[allow(clippy::cast_precision_loss)]
                            let sum = p.value() as f64;
                            points.push(Point {
                                sum,
                                ..point(attributes(&mut p.attributes()))
                            });
                        }
                    }
                    other => panic!("{}: not expected here: {other:?}", metric.name()),
                }
            }
        }
        points
    }

    /// The series of `name`.
    #[must_use]
    pub fn of(&self, name: &str) -> Vec<Point> {
        self.points()
            .into_iter()
            .filter(|p| p.name == name)
            .collect()
    }
}
