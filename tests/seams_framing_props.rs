//! Property tests: every framer finds the same boundaries however the stream is
//! cut into chunks, and they are the boundaries the messages were written with;
//! `auto` detection makes the same choice however the first bytes are cut.

use proptest::prelude::*;
use wireseam::analyze::framing::detect::detect;
use wireseam::analyze::framing::frame_all;
use wireseam::analyze::spec::{HeaderOrder, JsonHdrSpec, JsonKey, LenCovers};
use wireseam::analyze::{FramingSpec, LenSpec};

/// A serialised stream and the end offset of each message.
#[derive(Clone, Debug)]
struct Stream {
    bytes: Vec<u8>,
    ends: Vec<u64>,
}

fn build(msgs: Vec<Vec<u8>>) -> Stream {
    let mut bytes = Vec::new();
    let mut ends = Vec::new();
    for m in msgs {
        bytes.extend_from_slice(&m);
        ends.push(bytes.len() as u64);
    }
    Stream { bytes, ends }
}

fn lines_stream(crlf: bool) -> impl Strategy<Value = Stream> {
    let line = prop::collection::vec(any::<u8>().prop_filter("no LF", |&b| b != b'\n'), 0..120);
    prop::collection::vec(line, 1..40).prop_map(move |ls| {
        build(
            ls.into_iter()
                .map(|mut l| {
                    if crlf {
                        l.extend_from_slice(b"\r\n");
                    } else {
                        l.push(b'\n');
                    }
                    l
                })
                .collect(),
        )
    })
}

fn len_stream(width: u8, be: bool, extra: u32) -> impl Strategy<Value = Stream> {
    len_stream_covering(width, be, extra, LenCovers::Body)
}

/// Length-prefixed messages whose length counts the body, or (`Message`) the whole message.
fn len_stream_covering(width: u8, be: bool, extra: u32, covers: LenCovers) -> impl Strategy<Value = Stream> {
    let max = if width == 1 { 255 - (width as usize + extra as usize) } else { 700 };
    let body = prop::collection::vec(any::<u8>(), 0..=max);
    prop::collection::vec(body, 1..30).prop_map(move |bs| {
        build(
            bs.into_iter()
                .map(|b| {
                    let counted = match covers {
                        LenCovers::Body => b.len() as u64,
                        LenCovers::Message => (b.len() + width as usize + extra as usize) as u64,
                    };
                    let l = counted.to_be_bytes();
                    let mut f = l[8 - width as usize..].to_vec();
                    if !be {
                        f.reverse();
                    }
                    f.extend(std::iter::repeat_n(0xEE, extra as usize));
                    f.extend(b);
                    f
                })
                .collect(),
        )
    })
}

fn tls_stream() -> impl Strategy<Value = Stream> {
    let rec = (0x14u8..=0x17, 0u8..=4, prop::collection::vec(any::<u8>(), 1..600));
    prop::collection::vec(rec, 1..30).prop_map(|rs| {
        build(
            rs.into_iter()
                .map(|(t, v, b)| {
                    let mut r = vec![t, 3, v];
                    r.extend((b.len() as u16).to_be_bytes());
                    r.extend(b);
                    r
                })
                .collect(),
        )
    })
}

fn jsonhdr_stream() -> impl Strategy<Value = Stream> {
    jsonhdr_stream_of(HeaderOrder::Big, None)
}

/// JSON-header messages: the header length in `order`, the body length under one of the usual
/// names (`key` `None`, chosen per message) or under `key`.
fn jsonhdr_stream_of(order: HeaderOrder, key: Option<String>) -> impl Strategy<Value = Stream> {
    let usual = prop::sample::select(vec![
        "len",
        "length",
        "size",
        "total_size",
        "filesize",
        "file_size",
        "data_size",
        "body_len",
        "content_length",
    ]);
    let msg = (usual, 0u32..100, prop::collection::vec(any::<u8>(), 0..500), any::<bool>());
    prop::collection::vec(msg, 1..20).prop_map(move |ms| {
        build(
            ms.into_iter()
                .map(|(usual, seq, body, nested)| {
                    let k = key.as_deref().unwrap_or(usual);
                    // With a key of its own, `seq` is a string: the only integer is the length.
                    let seq = if key.is_some() { format!("\"{seq}\"") } else { seq.to_string() };
                    let h = if nested {
                        format!("{{\"seq\": {seq}, \"meta\": {{\"len\": 99, \"s\": \"x\\\"y\"}}, \"{k}\": {}}}", body.len())
                    } else {
                        format!("{{\"{k}\":{},\"seq\":{seq},\"type\":\"blob\"}}", body.len())
                    };
                    let mut m = if order == HeaderOrder::Little {
                        (h.len() as u32).to_le_bytes().to_vec()
                    } else {
                        (h.len() as u32).to_be_bytes().to_vec()
                    };
                    m.extend(h.as_bytes());
                    m.extend(body);
                    m
                })
                .collect(),
        )
    })
}

/// A key that is none of the usual length names.
fn custom_key() -> impl Strategy<Value = String> {
    "[a-z][a-z_]{2,14}".prop_filter("not a usual name", |k| {
        !["len", "length", "size", "total_size", "filesize", "file_size", "data_size", "body_len", "content_length", "seq", "type", "meta"]
            .contains(&k.as_str())
    })
}

fn jsonhdr_spec(order: HeaderOrder, key: Option<&str>) -> FramingSpec {
    FramingSpec::JsonHdr(JsonHdrSpec { order, key: key.map(|k| JsonKey::new(k.as_bytes()).unwrap()) })
}

#[derive(Clone, Debug)]
enum HttpMsg {
    Get(String),
    Post(Vec<u8>),
    ChunkedReq(Vec<Vec<u8>>),
    Resp(Vec<u8>),
    ChunkedResp(Vec<Vec<u8>>, bool),
    NoContent,
}

fn chunked(chunks: &[Vec<u8>], trailer: bool) -> Vec<u8> {
    let mut v = Vec::new();
    for c in chunks.iter().filter(|c| !c.is_empty()) {
        v.extend(format!("{:x};ext=1\r\n", c.len()).as_bytes());
        v.extend(c);
        v.extend(b"\r\n");
    }
    v.extend(b"0\r\n");
    if trailer {
        v.extend(b"X-Trailer: yes\r\n");
    }
    v.extend(b"\r\n");
    v
}

fn http_stream(requests: bool) -> impl Strategy<Value = Stream> {
    let body = prop::collection::vec(any::<u8>(), 0..400);
    let chunks = prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..5);
    let m = if requests {
        prop_oneof!["[a-z/]{1,20}".prop_map(HttpMsg::Get), body.prop_map(HttpMsg::Post), chunks.prop_map(HttpMsg::ChunkedReq),].boxed()
    } else {
        prop_oneof![
            body.prop_map(HttpMsg::Resp),
            (chunks, any::<bool>()).prop_map(|(c, t)| HttpMsg::ChunkedResp(c, t)),
            Just(HttpMsg::NoContent),
        ]
        .boxed()
    };
    prop::collection::vec(m, 1..12).prop_map(|ms| {
        build(
            ms.into_iter()
                .map(|m| match m {
                    HttpMsg::Get(p) => format!("GET /{p} HTTP/1.1\r\nHost: h\r\nUser-Agent: t\r\n\r\n").into_bytes(),
                    HttpMsg::Post(b) => {
                        let mut v = format!("POST /x HTTP/1.1\r\ncontent-length: {}\r\n\r\n", b.len()).into_bytes();
                        v.extend(b);
                        v
                    }
                    HttpMsg::ChunkedReq(c) => {
                        let mut v = b"PUT /up HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".to_vec();
                        v.extend(chunked(&c, false));
                        v
                    }
                    HttpMsg::Resp(b) => {
                        let mut v = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", b.len()).into_bytes();
                        v.extend(b);
                        v
                    }
                    HttpMsg::ChunkedResp(c, t) => {
                        let mut v = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                        v.extend(chunked(&c, t));
                        v
                    }
                    HttpMsg::NoContent => b"HTTP/1.1 204 No Content\r\nServer: s\r\n\r\n".to_vec(),
                })
                .collect(),
        )
    })
}

fn fixed_stream() -> impl Strategy<Value = (u32, Stream)> {
    (1u32..64, 1usize..40).prop_flat_map(|(n, k)| {
        prop::collection::vec(any::<u8>(), (n as usize) * k).prop_map(move |b| {
            let ends = (1..=k as u64).map(|i| i * u64::from(n)).collect();
            (n, Stream { bytes: b, ends })
        })
    })
}

/// Cuts `b` at the given fractions.
fn cut<'a>(b: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut pts: Vec<usize> = cuts.iter().map(|&c| c % (b.len() + 1)).collect();
    pts.sort_unstable();
    let mut out = Vec::new();
    let mut prev = 0;
    for p in pts {
        out.push(&b[prev..p]);
        prev = p;
    }
    out.push(&b[prev..]);
    out
}

fn check(spec: FramingSpec, s: &Stream, cuts: &[usize]) -> Result<(), TestCaseError> {
    let (whole, d1) = frame_all(spec, &[&s.bytes]);
    let chunks = cut(&s.bytes, cuts);
    let (chunked, d2) = frame_all(spec, &chunks);
    let (bytewise, d3) = frame_all(spec, &s.bytes.chunks(1).collect::<Vec<_>>());
    prop_assert_eq!(d1, None);
    prop_assert_eq!(d2, None);
    prop_assert_eq!(d3, None);
    prop_assert_eq!(&whole, &s.ends);
    prop_assert_eq!(&chunked, &s.ends);
    prop_assert_eq!(&bytewise, &s.ends);
    Ok(())
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(any::<usize>(), 0..30)
}

fn len_spec(width: u8, be: bool, extra: u32) -> FramingSpec {
    FramingSpec::Len(LenSpec { width, big_endian: be, extra, covers: LenCovers::Body })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn lines_chunking(s in lines_stream(false), c in cuts()) {
        check(FramingSpec::Lines, &s, &c)?;
    }

    #[test]
    fn crlf_chunking(s in lines_stream(true), c in cuts()) {
        // A lone LF inside a line is not an end; "\r\r\n" ends at the LF.
        check(FramingSpec::Crlf, &s, &c)?;
    }

    #[test]
    fn len_chunking((w, be, extra, s) in (prop::sample::select(vec![1u8, 2, 4, 8]), any::<bool>(), 0u32..4)
                        .prop_flat_map(|(w, be, e)| (Just(w), Just(be), Just(e), len_stream(w, be, e))),
                    c in cuts()) {
        check(len_spec(w, be, extra), &s, &c)?;
    }

    #[test]
    fn tls_chunking(s in tls_stream(), c in cuts()) {
        check(FramingSpec::Tls, &s, &c)?;
    }

    #[test]
    fn jsonhdr_chunking(s in jsonhdr_stream(), c in cuts()) {
        check(jsonhdr_spec(HeaderOrder::Big, None), &s, &c)?;
    }

    /// Both byte orders and keys of any name: the framer given the layout, and the one that
    /// finds the byte order itself (`jsonhdr`), find the written boundaries; so does `auto`.
    #[test]
    fn jsonhdr_orders_and_keys((order, key, s) in (prop::sample::select(vec![HeaderOrder::Big, HeaderOrder::Little]), prop::option::of(custom_key()))
                                   .prop_flat_map(|(o, k)| (Just(o), Just(k.clone()), jsonhdr_stream_of(o, k))),
                               c in cuts()) {
        check(jsonhdr_spec(order, key.as_deref()), &s, &c)?;
        if key.is_none() {
            check(jsonhdr_spec(HeaderOrder::Either, None), &s, &c)?;
        }
        let d = detect(&s.bytes, true).unwrap();
        prop_assert_eq!(d.spec, jsonhdr_spec(order, key.as_deref()), "{}", d.reason);
    }

    #[test]
    fn total_length_chunking((w, be, extra, s) in (prop::sample::select(vec![2u8, 4]), any::<bool>(), 0u32..3)
                        .prop_flat_map(|(w, be, e)| (Just(w), Just(be), Just(e), len_stream_covering(w, be, e, LenCovers::Message))),
                    c in cuts()) {
        check(FramingSpec::Len(LenSpec { width: w, big_endian: be, extra, covers: LenCovers::Message }), &s, &c)?;
    }

    #[test]
    fn http_requests_chunking(s in http_stream(true), c in cuts()) {
        check(FramingSpec::Http, &s, &c)?;
    }

    #[test]
    fn http_responses_chunking(s in http_stream(false), c in cuts()) {
        check(FramingSpec::Http, &s, &c)?;
    }

    #[test]
    fn fixed_chunking((n, s) in fixed_stream(), c in cuts()) {
        check(FramingSpec::Fixed(n), &s, &c)?;
    }

    /// Detection fed chunk by chunk (as the engine does: it asks after every
    /// chunk, and once more with `ended` at the end) chooses the same framing,
    /// confidence and reason however the stream is cut.
    #[test]
    fn detection_chunking((kind, s) in prop_oneof![
                                lines_stream(false).prop_map(|s| (0, s)),
                                lines_stream(true).prop_map(|s| (1, s)),
                                len_stream(4, true, 0).prop_map(|s| (2, s)),
                                len_stream(2, false, 0).prop_map(|s| (3, s)),
                                jsonhdr_stream().prop_map(|s| (4, s)),
                                http_stream(true).prop_map(|s| (5, s)),
                                tls_stream().prop_map(|s| (6, s)),
                            ],
                          c1 in cuts(), c2 in cuts()) {
        let run = |cuts: &[usize]| {
            let mut seen = 0;
            for ch in cut(&s.bytes, cuts) {
                seen += ch.len();
                if let Some(d) = detect(&s.bytes[..seen], false) {
                    return d;
                }
            }
            detect(&s.bytes, true).unwrap()
        };
        let whole = run(&[]);
        prop_assert_eq!(&run(&c1), &whole);
        prop_assert_eq!(&run(&c2), &whole);
        if kind == 4 { prop_assert_eq!(whole.spec, jsonhdr_spec(HeaderOrder::Big, None)); }
        if kind == 5 { prop_assert_eq!(whole.spec, FramingSpec::Http); }
        if kind == 6 { prop_assert_eq!(whole.spec, FramingSpec::Tls); }
    }
}

#[test]
fn len_gigabyte_claim_allocates_nothing() {
    let (e, d) = frame_all(len_spec(4, true, 0), &[&[0xff, 0xff, 0xff, 0xff], &[1u8; 10_000]]);
    assert!(e.is_empty() && d.is_none());
}
