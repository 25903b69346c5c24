use super::head::{trim_ows, Span};

/// The header fields of a parsed head, borrowed from the bytes they were
/// read from: looking one up allocates nothing.
///
/// ```
/// use realtime_events::http::{RequestParser, Status};
/// let buf = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n\r\n";
/// let Status::Complete(index) = RequestParser::default().parse(buf).unwrap() else { panic!() };
/// let head = index.view(buf);
/// assert!(head.headers().has_token("connection", "upgrade"));
/// assert_eq!(head.headers().get("HOST"), Some(&b"a"[..]));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Headers<'a> {
    buf: &'a [u8],
    fields: &'a [(Span, Span)],
}

impl<'a> Headers<'a> {
    pub(crate) fn new(buf: &'a [u8], fields: &'a [(Span, Span)]) -> Self {
        Headers { buf, fields }
    }

    /// Every field in arrival order, as (name, value).
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        let buf = self.buf;
        self.fields.iter().map(move |(name, value)| {
            // Names were checked to be tokens, which are ASCII.
            let name = std::str::from_utf8(name.slice(buf)).unwrap_or_default();
            (name, value.slice(buf))
        })
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when the head has no fields at all.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Every value of the fields called `name` (case-insensitive).
    pub fn get_all<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + 'n
    where
        'a: 'n,
    {
        // Compare the name's bytes directly: converting every name to
        // `&str` first (as `iter` does) cost a UTF-8 check per field per
        // lookup, and the parser looks up three names in every request.
        let buf = self.buf;
        self.fields
            .iter()
            .filter(move |(n, _)| n.slice(buf).eq_ignore_ascii_case(name.as_bytes()))
            .map(move |(_, v)| v.slice(buf))
    }

    /// The first value of the field called `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.get_all(name).next()
    }

    /// The first value of `name` as text, if it is valid UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&'a str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// How many fields are called `name`.
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    /// The comma-separated elements of every `name` field, trimmed, empty
    /// elements skipped (RFC 9110 §5.6.1), as in `Connection: keep-alive, Upgrade`.
    pub fn tokens<'n>(&self, name: &'n str) -> TokenList<'a, 'n> {
        TokenList {
            buf: self.buf,
            fields: self.fields,
            name,
            current: &[],
        }
    }

    /// Whether the list-valued field `name` holds `token` (case-insensitive).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.tokens(name)
            .any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
    }
}

/// Iterator over the elements of a list-valued field; see [`Headers::tokens`].
pub struct TokenList<'a, 'n> {
    buf: &'a [u8],
    fields: &'a [(Span, Span)],
    name: &'n str,
    current: &'a [u8],
}

impl<'a> Iterator for TokenList<'a, '_> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if self.current.is_empty() {
                // Move on to the next field with our name.
                let (first, rest) = self.fields.split_first()?;
                self.fields = rest;
                if first
                    .0
                    .slice(self.buf)
                    .eq_ignore_ascii_case(self.name.as_bytes())
                {
                    self.current = first.1.slice(self.buf);
                }
                continue;
            }
            let (element, rest) = match self.current.iter().position(|&b| b == b',') {
                Some(comma) => (&self.current[..comma], &self.current[comma + 1..]),
                None => (self.current, &[][..]),
            };
            self.current = rest;
            let element = trim_ows(element);
            if !element.is_empty() {
                return Some(element);
            }
        }
    }
}
