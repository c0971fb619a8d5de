//! `-Y EXPR`: a display filter over wireseam's own fields, as tshark's `-Y` over its fields.
//! Field names are those of `-T fields` and of the JSON packet record ([`Field`], one
//! registry); a field's value is the text `-T fields` writes for it, so the two never disagree.
//!
//! ```text
//! expr    = or
//! or      = and { ("||" | "or") and }
//! and     = unary { ("&&" | "and") unary }
//! unary   = ("!" | "not") unary | primary
//! primary = "(" expr ")" | FIELD [ op value ]
//! op      = "==" | "!=" | "<" | "<=" | ">" | ">=" | "contains"   (also eq ne lt le gt ge)
//! value   = NUMBER | "quoted string" | WORD                       (an address, a name)
//! ```
//!
//! A bare field is true when the frame has it and it is not `0` or `false`. A list field
//! (`tcp.analysis`, `tcp.sack`, ...) compares element by element: `==`, `<`, ... and
//! `contains` hold when one element does, `!=` when none is equal. Values compare as numbers
//! when both sides are numbers, as addresses when both are IP addresses, else as text (only
//! `==`, `!=` and `contains`; an ordering of text is false).

use std::fmt;
use std::net::IpAddr;

use super::fields::{field_text, Field};
use crate::pipeline::PacketView;

/// A parsed display filter.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    nodes: Vec<Node>,
    root: usize,
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Or(usize, usize),
    And(usize, usize),
    Not(usize),
    Present(Field),
    Compare(Field, Op, Value),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
}

/// The right-hand side, parsed once.
#[derive(Clone, Debug, PartialEq)]
struct Value {
    text: String,
    number: Option<f64>,
    ip: Option<IpAddr>,
}

impl Value {
    fn new(text: String) -> Value {
        Value { number: text.parse().ok(), ip: text.parse().ok(), text }
    }
}

/// Why an expression did not parse, and where (byte offsets into it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong.
    pub message: String,
    /// The expression.
    pub text: String,
    /// The offending token: its first byte and its length (at least 1).
    pub at: usize,
    /// Its length in bytes.
    pub len: usize,
}

impl fmt::Display for ParseError {
    /// The message, then the expression with carets under the wrong token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pad = self.text[..self.at.min(self.text.len())].chars().count();
        let width = self.text.get(self.at..self.at + self.len).map_or(1, |t| t.chars().count().max(1));
        write!(f, "{}\n    {}\n    {}{}", self.message, self.text, " ".repeat(pad), "^".repeat(width))
    }
}

impl std::error::Error for ParseError {}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Op(Op),
    Word(String),
    Quoted(String),
    End,
}

struct Token {
    tok: Tok,
    at: usize,
    len: usize,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-' | b'/' | b'+')
}

fn tokenize(text: &str) -> Result<Vec<Token>, ParseError> {
    let bytes = text.as_bytes();
    let err = |message: String, at: usize, len: usize| ParseError { message, text: text.to_string(), at, len };
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let two = bytes.get(i..i + 2).unwrap_or(&[]);
        let (tok, len) = match two {
            b"&&" => (Tok::And, 2),
            b"||" => (Tok::Or, 2),
            b"==" => (Tok::Op(Op::Eq), 2),
            b"!=" => (Tok::Op(Op::Ne), 2),
            b"<=" => (Tok::Op(Op::Le), 2),
            b">=" => (Tok::Op(Op::Ge), 2),
            _ => match b {
                b'(' => (Tok::LParen, 1),
                b')' => (Tok::RParen, 1),
                b'!' => (Tok::Not, 1),
                b'<' => (Tok::Op(Op::Lt), 1),
                b'>' => (Tok::Op(Op::Gt), 1),
                b'=' => return Err(err("`=` is not an operator: compare with `==`".into(), i, 1)),
                b'&' | b'|' => return Err(err(format!("`{}` alone is not an operator: use `{0}{0}`", b as char), i, 1)),
                b'"' | b'\'' => {
                    let end = text[i + 1..].find(b as char).ok_or_else(|| err("the string is not closed".into(), i, text.len() - i))?;
                    out.push(Token { tok: Tok::Quoted(text[i + 1..i + 1 + end].to_string()), at: i, len: end + 2 });
                    i += end + 2;
                    continue;
                }
                _ if is_word_byte(b) => {
                    let len = bytes[i..].iter().take_while(|&&b| is_word_byte(b)).count();
                    let word = &text[i..i + len];
                    let tok = match word {
                        "and" => Tok::And,
                        "or" => Tok::Or,
                        "not" => Tok::Not,
                        "eq" => Tok::Op(Op::Eq),
                        "ne" => Tok::Op(Op::Ne),
                        "lt" => Tok::Op(Op::Lt),
                        "le" => Tok::Op(Op::Le),
                        "gt" => Tok::Op(Op::Gt),
                        "ge" => Tok::Op(Op::Ge),
                        "contains" => Tok::Op(Op::Contains),
                        _ => Tok::Word(word.to_string()),
                    };
                    (tok, len)
                }
                _ => {
                    let len = text[i..].chars().next().map_or(1, char::len_utf8);
                    return Err(err(format!("unexpected `{}`", &text[i..i + len]), i, len));
                }
            },
        };
        out.push(Token { tok, at: i, len });
        i += len;
    }
    out.push(Token { tok: Tok::End, at: text.len(), len: 1 });
    Ok(out)
}

struct Parser<'t> {
    text: &'t str,
    toks: Vec<Token>,
    pos: usize,
    nodes: Vec<Node>,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.toks[self.pos]
    }

    fn err(&self, message: impl Into<String>, tok: &Token) -> ParseError {
        ParseError { message: message.into(), text: self.text.to_string(), at: tok.at, len: tok.len }
    }

    fn push(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn or(&mut self) -> Result<usize, ParseError> {
        let mut left = self.and()?;
        while self.peek().tok == Tok::Or {
            self.pos += 1;
            let right = self.and()?;
            left = self.push(Node::Or(left, right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<usize, ParseError> {
        let mut left = self.unary()?;
        while self.peek().tok == Tok::And {
            self.pos += 1;
            let right = self.unary()?;
            left = self.push(Node::And(left, right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<usize, ParseError> {
        if self.peek().tok == Tok::Not {
            self.pos += 1;
            let inner = self.unary()?;
            return Ok(self.push(Node::Not(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<usize, ParseError> {
        let open = self.pos;
        let tok = &self.toks[self.pos];
        match &tok.tok {
            Tok::LParen => {
                self.pos += 1;
                let inner = self.or()?;
                let close = &self.toks[self.pos];
                if close.tok != Tok::RParen {
                    return Err(self.err(format!("expected `)` to close the `(` at byte {}", self.toks[open].at + 1), close));
                }
                self.pos += 1;
                Ok(inner)
            }
            Tok::Word(name) => {
                let field = match Field::parse(name) {
                    Ok(field) => field,
                    Err(_) => {
                        let close = Field::ALL.iter().find(|f| strsim_close(f.name(), name));
                        let hint = close.map_or(String::new(), |f| format!(" (did you mean {}?)", f.name()));
                        return Err(self.err(
                            format!(
                                "unknown field `{name}`{hint}; the fields are those of -T fields (wireseam read -T fields -e ? lists them)"
                            ),
                            tok,
                        ));
                    }
                };
                if matches!(field, Field::TcpMessages | Field::UdpMessages) {
                    return Err(self.err(
                        format!("{name} is known only once later frames end the messages; `wireseam stream` shows which messages are sticky or split"),
                        tok,
                    ));
                }
                self.pos += 1;
                let Tok::Op(op) = self.peek().tok else { return Ok(self.push(Node::Present(field))) };
                self.pos += 1;
                let value_tok = &self.toks[self.pos];
                let value = match &value_tok.tok {
                    Tok::Word(w) | Tok::Quoted(w) => Value::new(w.clone()),
                    _ => return Err(self.err("expected a value (a number, an address, a word or a \"quoted string\")", value_tok)),
                };
                self.pos += 1;
                Ok(self.push(Node::Compare(field, op, value)))
            }
            Tok::End => Err(self.err("the expression ends too early: expected a field", tok)),
            _ => Err(self.err("expected a field or `(`", tok)),
        }
    }
}

/// Names one edit apart (a typo), for the hint.
fn strsim_close(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..].iter().rev().zip(b[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    a.len().max(b.len()) - prefix - suffix <= 1 || (a.len() == b.len() && a.len() - prefix - suffix == 2 && a[prefix] == b[prefix + 1])
}

impl Expr {
    /// Parse `text`; the error points at the token that is wrong.
    pub fn parse(text: &str) -> Result<Expr, ParseError> {
        let toks = tokenize(text)?;
        let mut p = Parser { text, toks, pos: 0, nodes: Vec::new() };
        let root = p.or()?;
        let rest = &p.toks[p.pos];
        if rest.tok != Tok::End {
            let message = match rest.tok {
                Tok::RParen => "this `)` closes nothing",
                Tok::Word(_) | Tok::Quoted(_) => "expected an operator, `&&` or `||` before this",
                _ => "unexpected here",
            };
            return Err(p.err(message, rest));
        }
        Ok(Expr { nodes: p.nodes, root })
    }

    /// Does the frame pass? `scratch` holds a field's text while it is compared (reused: no
    /// allocation per frame once it has grown).
    pub fn matches(&self, view: &PacketView<'_, '_>, scratch: &mut Vec<u8>) -> bool {
        self.eval(self.root, view, scratch)
    }

    fn eval(&self, at: usize, view: &PacketView<'_, '_>, scratch: &mut Vec<u8>) -> bool {
        match &self.nodes[at] {
            Node::Or(a, b) => self.eval(*a, view, scratch) || self.eval(*b, view, scratch),
            Node::And(a, b) => self.eval(*a, view, scratch) && self.eval(*b, view, scratch),
            Node::Not(a) => !self.eval(*a, view, scratch),
            Node::Present(field) => {
                text_of(scratch, *field, view);
                !scratch.is_empty() && scratch.as_slice() != b"0" && scratch.as_slice() != b"false"
            }
            Node::Compare(field, op, value) => {
                text_of(scratch, *field, view);
                if scratch.is_empty() {
                    // A field the frame lacks: nothing compares (tshark: `!=` too is false).
                    return false;
                }
                let mut elements = scratch.split(|&b| b == LIST);
                match op {
                    Op::Ne => !elements.any(|e| compare(e, Op::Eq, value)),
                    _ => elements.any(|e| compare(e, *op, value)),
                }
            }
        }
    }
}

/// Between the elements of a list field while filtering.
const LIST: u8 = b',';

fn text_of(scratch: &mut Vec<u8>, field: Field, view: &PacketView<'_, '_>) {
    scratch.clear();
    // into a Vec: cannot fail
    let _ = field_text(scratch, field, view, LIST);
}

fn compare(element: &[u8], op: Op, value: &Value) -> bool {
    let Ok(text) = std::str::from_utf8(element) else { return false };
    if op == Op::Contains {
        return text.contains(value.text.as_str());
    }
    let ordering = if let (Some(v), Ok(e)) = (value.number, text.parse::<f64>()) {
        e.partial_cmp(&v)
    } else if let (Some(v), Ok(e)) = (value.ip, text.parse::<IpAddr>()) {
        Some(e.cmp(&v))
    } else if matches!(op, Op::Eq | Op::Ne) {
        Some(if text == value.text { std::cmp::Ordering::Equal } else { std::cmp::Ordering::Less })
    } else {
        None
    };
    let Some(ordering) = ordering else { return false };
    use std::cmp::Ordering::*;
    match op {
        Op::Eq => ordering == Equal,
        Op::Ne => ordering != Equal,
        Op::Lt => ordering == Less,
        Op::Le => ordering != Greater,
        Op::Gt => ordering == Greater,
        Op::Ge => ordering != Less,
        Op::Contains => unreachable!("handled above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> ParseError {
        Expr::parse(text).expect_err(text)
    }

    #[test]
    fn grammar() {
        for ok in [
            "tcp.analysis == retransmission",
            "tcp.state.client == \"TIME-WAIT\"",
            "ip.src == 10.0.0.1 && tcp.len > 0",
            "not (tcp.len <= 0 or udp.len ge 3) and !tcp.rack",
            "tcp.flags contains 'S'",
            "ip.src == 2001:db8::1",
            "tcp.sack",
        ] {
            Expr::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let e = Expr::parse("tcp.len || tcp.sack && tcp.ts").unwrap();
        assert!(matches!(e.nodes[e.root], Node::Or(_, _)), "{e:?}");
    }

    #[test]
    fn errors_point_at_the_token() {
        let e = error("ip.src == 10.0.0.1 && tcp.lne > 0");
        assert_eq!((e.at, e.len), (22, 7));
        assert!(e.message.contains("unknown field `tcp.lne`") && e.message.contains("did you mean tcp.len?"), "{e}");
        assert_eq!(e.to_string().lines().nth(2).unwrap(), format!("    {}^^^^^^^", " ".repeat(22)));
        assert_eq!(error("tcp.len = 3").at, 8);
        assert_eq!(error("tcp.len >").at, 9, "the end");
        assert_eq!(error("(tcp.len").message, "expected `)` to close the `(` at byte 1");
        assert_eq!(error("tcp.len 3").at, 8);
        assert_eq!(error("tcp.len)").message, "this `)` closes nothing");
        assert!(error("tcp.state.client == \"TIME").message.contains("not closed"));
        assert!(error("tcp.messages").message.contains("wireseam stream"));
        assert_eq!(error("tcp.len == é").at, 11);
    }

    #[test]
    fn values_compare_as_numbers_addresses_or_text() {
        let v = |t: &str| Value::new(t.into());
        assert!(compare(b"10", Op::Gt, &v("9")), "numbers, not text");
        assert!(compare(b"10.0.0.10", Op::Gt, &v("10.0.0.9")), "addresses");
        assert!(compare(b"2001:db8::1", Op::Eq, &v("2001:0db8::1")));
        assert!(compare(b"TIME-WAIT", Op::Eq, &v("TIME-WAIT")));
        assert!(!compare(b"TIME-WAIT", Op::Gt, &v("A")), "no ordering of text");
        assert!(compare(b"retransmission", Op::Contains, &v("retrans")));
    }
}
