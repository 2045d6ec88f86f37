//! Strict JSON for JOSE: a small reader with its own value type, rejecting duplicate member
//! names at every depth.
//!
//! RFC 7515 §5.2 and RFC 7519 §4 let parsers either reject duplicate names or keep the last
//! one. Keeping the last one means two parsers can read different claims from one token
//! (the classic `{"sub":"alice","sub":"admin"}` confusion), so tokenwarden rejects them.
//!
//! It is hand-written rather than serde_json because the wasm build must stay small: serde_json
//! costs about 20 KB gzip there (measured in a wasm probe), and a JOSE reader needs no float formatting,
//! no derive machinery and no streaming. Numbers keep their text; [`Number`] reads integers
//! exactly and floors non-integers with integer arithmetic, so no float parsing is linked.
//! Nesting is limited to [`MAX_DEPTH`] so hostile input cannot exhaust the stack.

use crate::prelude::*;

use crate::core::error::JwtError;

/// Deepest nesting accepted (objects and arrays), as serde_json's default recursion limit.
pub const MAX_DEPTH: usize = 128;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as written.
    Number(Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object (member names unique).
    Object(Map),
}

impl Value {
    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, when this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

/// A JSON number, kept as its (validated) text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number(String);

impl Number {
    /// An unsigned integer, written in decimal.
    pub fn from_u64(n: u64) -> Self {
        Number(crate::core::error::decimal(n))
    }

    /// The number's text, exactly as written in the JSON.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value when it is an integer (no fraction or exponent) that fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        if self.is_integer() {
            self.0.parse().ok()
        } else {
            None
        }
    }

    /// The value when it is a non-negative integer that fits a `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        if self.is_integer() {
            self.0.parse().ok()
        } else {
            None
        }
    }

    /// Written without fraction or exponent.
    pub fn is_integer(&self) -> bool {
        !self.0.contains(['.', 'e', 'E'])
    }

    /// `floor(value)` when it lies within `min..=max` (both non-negative), computed exactly
    /// from the decimal text (`1.9` → 1, `1e3` → 1000, `2.5e-1` → 0); `None` outside the range.
    pub fn floor_within(&self, min: i64, max: i64) -> Option<i64> {
        let text = self.0.as_str();
        // Most dates are plain integers: up to 18 digits fit an i64 whatever they are, and
        // the general path below was 7% of `decodeJwt` in a Node CPU profile.
        if text.len() <= 18 && text.bytes().all(|b| b.is_ascii_digit()) {
            let value = text
                .bytes()
                .fold(0i64, |value, digit| value * 10 + i64::from(digit - b'0'));
            return (min..=max).contains(&value).then_some(value);
        }
        let (negative, text) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent) = match text.find(['e', 'E']) {
            Some(at) => (text.get(..at)?, exponent(text.get(at + 1..)?)?),
            None => (text, 0),
        };
        // A closure, not the char '.': the char searcher links an indexing panic into the wasm build.
        #[allow(clippy::manual_pattern_char_comparison)]
        let (int_part, frac_part) = mantissa.split_once(|c| c == '.').unwrap_or((mantissa, ""));
        let digits = int_part.bytes().chain(frac_part.bytes());
        // The position of the decimal point within `digits`, moved by the exponent.
        let point = (int_part.len() as i64).checked_add(exponent)?;
        // |floor| in a u64 kept within i64::MAX by checking before each step, so no 128-bit
        // multiplication is linked (`__muloti4` was 2% of `decodeJwt` in a Node profile).
        const MAX: u64 = i64::MAX as u64;
        let mut floor: u64 = 0;
        let mut fraction_nonzero = false;
        for (index, digit) in (0i64..).zip(digits) {
            let digit = u64::from(digit - b'0');
            if index < point {
                if floor > (MAX - digit) / 10 {
                    return None;
                }
                floor = floor * 10 + digit;
            } else if digit != 0 {
                fraction_nonzero = true;
            }
        }
        let total_digits = (int_part.len() + frac_part.len()) as i64;
        if floor != 0 {
            // Trailing zeros implied by the exponent; more than 19 overflow an i64 anyway.
            for _ in total_digits..point.max(total_digits).min(total_digits + 20) {
                if floor > MAX / 10 {
                    return None;
                }
                floor *= 10;
            }
        }
        // floor <= i64::MAX: the negation and the subtraction of 1 stay within an i64.
        let mut floor = floor as i64;
        if negative && (floor != 0 || fraction_nonzero) {
            floor = -floor - i64::from(fraction_nonzero);
        }
        (min..=max).contains(&floor).then_some(floor)
    }
}

/// The exponent of a validated JSON number (`[+-]?[0-9]+`) as an `i64`; `None` when it does not
/// fit. Byte by byte: `str::parse` brought its own code and panic paths into the wasm build.
fn exponent(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        all => (false, all),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: i64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        value = value
            .checked_mul(10)?
            .checked_add(i64::from(digit - b'0'))?;
    }
    Some(if negative { -value } else { value })
}

/// A JSON object: members in document order, names unique.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Map(Vec<(String, Value)>);

impl Map {
    /// An empty object.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// The member named `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(key, _)| key == name).map(|(_, v)| v)
    }

    /// Whether a member named `name` is present.
    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Removes and returns the member named `name`.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        // `retain_mut`, not `Vec::remove`: no index, so no panic path in the wasm build.
        let mut removed = None;
        self.0.retain_mut(|(key, value)| {
            if removed.is_none() && key == name {
                removed = Some(core::mem::replace(value, Value::Null));
                return false;
            }
            true
        });
        removed
    }

    /// Sets member `name`, replacing an existing one.
    pub fn insert(&mut self, name: String, value: Value) {
        match self.0.iter_mut().find(|(key, _)| *key == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The members in document order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// Parses `bytes` as one JSON object, rejecting duplicate member names anywhere inside it.
///
/// `part` names the segment in the error (`"header"`, `"payload"`, `"jwk"`).
pub fn parse_object(bytes: &[u8], part: &'static str) -> Result<Map, JwtError> {
    let text = core::str::from_utf8(bytes).map_err(|_| JwtError::InvalidUtf8 { part })?;
    parse_object_text(text, part)
}

/// [`parse_object`] of text already known to be UTF-8.
pub fn parse_object_text(text: &str, part: &'static str) -> Result<Map, JwtError> {
    let mut reader = Reader { text, at: 0, part };
    reader.skip_whitespace();
    if reader.peek() != Some(b'{') {
        return Err(JwtError::InvalidJson { part });
    }
    let value = reader.value(0)?;
    reader.skip_whitespace();
    match value {
        Value::Object(map) if reader.at == reader.text.len() => Ok(map),
        _ => Err(JwtError::InvalidJson { part }),
    }
}

/// In-place heap sort of member names: O(n log n) in every case (a hostile object with
/// thousands of members stays cheap) in a few hundred bytes of wasm, where `sort_unstable`
/// links 2.9 KB (twiggy) for this one use.
fn heap_sort(items: &mut [&str]) {
    // The heap is the whole of `heap`, so every index below is checked against its length by
    // the loop conditions, and the wasm build links no bounds-check panic.
    fn sift_down(heap: &mut [&str], mut root: usize) {
        let end = heap.len();
        loop {
            let mut child = 2 * root + 1;
            if child >= end || root >= end {
                return;
            }
            if child + 1 < end && heap[child] < heap[child + 1] {
                child += 1;
            }
            if heap[root] >= heap[child] {
                return;
            }
            heap.swap(root, child);
            root = child;
        }
    }
    for start in (0..items.len() / 2).rev() {
        sift_down(items, start);
    }
    let mut rest = items;
    // Move the largest to the end, then restore the heap in front of it.
    while let Some((largest, heap)) = rest.split_last_mut() {
        if let Some(first) = heap.first_mut() {
            core::mem::swap(first, largest);
        }
        sift_down(heap, 0);
        rest = heap;
    }
}

struct Reader<'a> {
    /// The input, checked UTF-8 once.
    text: &'a str,
    at: usize,
    part: &'static str,
}

impl<'a> Reader<'a> {
    fn invalid(&self) -> JwtError {
        JwtError::InvalidJson { part: self.part }
    }

    // Inlined by hand: the release profile optimizes for size ("z"), which otherwise leaves a
    // call per byte in the hottest loops.
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    #[inline(always)]
    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), JwtError> {
        self.skip_whitespace();
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.invalid())
        }
    }

    fn literal(&mut self, word: &[u8], value: Value) -> Result<Value, JwtError> {
        if self
            .text
            .as_bytes()
            .get(self.at..)
            .is_some_and(|rest| rest.starts_with(word))
        {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.invalid())
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JwtError> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'{') => self.object(depth + 1).map(Value::Object),
            Some(b'[') => self.array(depth + 1).map(Value::Array),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number().map(Value::Number),
            _ => Err(self.invalid()),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Map, JwtError> {
        if depth > MAX_DEPTH {
            return Err(self.invalid());
        }
        // Room for a typical token's members at once (a payload has about a dozen): one
        // allocation instead of growing through 4, 8 and 16.
        self.at += 1; // `{`
        let mut members: Vec<(String, Value)> = Vec::with_capacity(16);
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Map(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.invalid());
            }
            let name = self.string()?;
            self.expect(b':')?;
            let value = self.value(depth)?;
            members.push((name, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    break;
                }
                _ => return Err(self.invalid()),
            }
        }
        // Names compared after unescaping: `"a"` and `"\u0061"` are the same member.
        let duplicate = if members.len() <= 16 {
            members
                .iter()
                .enumerate()
                .any(|(i, (name, _))| members.iter().take(i).any(|(other, _)| other == name))
        } else {
            let mut names: Vec<&str> = members.iter().map(|(name, _)| name.as_str()).collect();
            heap_sort(&mut names);
            names.windows(2).any(|pair| pair[0] == pair[1])
        };
        if duplicate {
            return Err(JwtError::DuplicateMember { part: self.part });
        }
        Ok(Map(members))
    }

    fn array(&mut self, depth: usize) -> Result<Vec<Value>, JwtError> {
        if depth > MAX_DEPTH {
            return Err(self.invalid());
        }
        self.at += 1; // `[`
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(items);
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(items);
                }
                _ => return Err(self.invalid()),
            }
        }
    }

    fn string(&mut self) -> Result<String, JwtError> {
        self.at += 1; // `"`
        let mut out = String::new();
        loop {
            let run_start = self.at;
            while let Some(byte) = self.peek() {
                if byte == b'"' || byte == b'\\' || byte < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // The input is valid UTF-8 and the run stops only at ASCII bytes.
            let run = self.text_from(run_start)?;
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    // Most strings have no escape: one allocation of the exact size.
                    if out.is_empty() {
                        return Ok(run.to_owned());
                    }
                    out.push_str(run);
                    return Ok(out);
                }
                Some(b'\\') => {
                    out.push_str(run);
                    self.at += 1;
                    let escape = self.peek().ok_or_else(|| self.invalid())?;
                    self.at += 1;
                    let c = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(self.invalid()),
                    };
                    out.push(c);
                }
                // A raw control character or the end of the input.
                _ => return Err(self.invalid()),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JwtError> {
        let digits = self
            .text
            .as_bytes()
            .get(self.at..self.at + 4)
            .ok_or_else(|| self.invalid())?;
        let mut value = 0;
        for &digit in digits {
            let nibble = (digit as char).to_digit(16).ok_or_else(|| self.invalid())?;
            value = value * 16 + nibble;
        }
        self.at += 4;
        Ok(value)
    }

    /// `\uXXXX`, with surrogate pairs joined; a lone surrogate is an error (it has no UTF-8
    /// form, so two readers could disagree on it).
    fn unicode_escape(&mut self) -> Result<char, JwtError> {
        let first = self.hex4()?;
        let code = match first {
            0xd800..=0xdbff => {
                if self.text.as_bytes().get(self.at..self.at + 2) != Some(b"\\u") {
                    return Err(self.invalid());
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xdc00..=0xdfff).contains(&second) {
                    return Err(self.invalid());
                }
                0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
            }
            0xdc00..=0xdfff => return Err(self.invalid()),
            other => other,
        };
        char::from_u32(code).ok_or_else(|| self.invalid())
    }

    /// RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Result<Number, JwtError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.invalid()),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.invalid());
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.invalid());
            }
            self.digits();
        }
        Ok(Number(self.text_from(start)?.to_owned()))
    }

    /// The text from `start` to the current position (`get`, not indexing: nothing here panics;
    /// the input is UTF-8 already, so only the two ends' char boundaries are checked, not every
    /// byte again).
    fn text_from(&self, start: usize) -> Result<&'a str, JwtError> {
        self.text.get(start..self.at).ok_or_else(|| self.invalid())
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
    }
}

impl Value {
    /// The value as JSON text, written without `core::fmt` (the OAuth profile stores its login
    /// transaction with it in the npm package's wasm, which links no formatting machinery).
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(n.as_str()),
            Value::String(s) => write_string(out, s),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                out.push('{');
                for (i, (name, value)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(out, name);
                    out.push(':');
                    value.write_json(out);
                }
                out.push('}');
            }
        }
    }
}

/// Writes JSON text ([`Value::to_json`]; used natively and by tests).
impl core::fmt::Display for Value {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.to_json())
    }
}

/// `s` as a JSON string literal, appended to `out`.
pub(crate) fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let code = c as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[code >> 4]));
                out.push(char::from(HEX[code & 15]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Serializes as the JSON it was read from (numbers through their text: integers exactly,
/// others as `f64`), so `Claims` and `Header` stay `serde::Serialize`.
impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    serializer.serialize_i64(i)
                } else if let Some(u) = n.as_u64() {
                    serializer.serialize_u64(u)
                } else {
                    serializer.serialize_f64(n.as_str().parse().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(map) => map.serialize(serializer),
        }
    }
}

impl serde::Serialize for Map {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut out = serializer.serialize_map(Some(self.len()))?;
        for (name, value) in self.iter() {
            out.serialize_entry(name, value)?;
        }
        out.end()
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn parses_objects() {
        let map = parse_object(
            br#"{"a":1,"b":[{"c":true}],"d":1.5,"e":null,"f":"x\u00e9\ud83d\ude00"}"#,
            "payload",
        )
        .unwrap();
        assert_eq!(map.len(), 5);
        assert_eq!(
            map.get("f"),
            Some(&Value::String("x\u{e9}\u{1f600}".into()))
        );
        assert_eq!(
            map.to_owned_value().to_string(),
            "{\"a\":1,\"b\":[{\"c\":true}],\"d\":1.5,\"e\":null,\"f\":\"x\u{e9}\u{1f600}\"}"
        );
    }

    impl Map {
        fn to_owned_value(&self) -> Value {
            Value::Object(self.clone())
        }
    }

    #[test]
    fn rejects_duplicates_at_any_depth_even_when_escaped() {
        let many: String = (0..40).map(|i| format!("\"k{i}\":{i},")).collect();
        for doc in [
            r#"{"sub":"alice","sub":"admin"}"#.to_string(),
            r#"{"sub":"alice","s\u0075b":"admin"}"#.to_string(),
            r#"{"a":{"x":1,"x":2}}"#.to_string(),
            r#"{"a":[{"x":1,"x":2}]}"#.to_string(),
            format!("{{{many}\"k7\":0}}"),
        ] {
            assert_eq!(
                parse_object(doc.as_bytes(), "payload"),
                Err(JwtError::DuplicateMember { part: "payload" }),
                "{doc}"
            );
        }
        assert!(parse_object(format!("{{{many}\"z\":0}}").as_bytes(), "payload").is_ok());
    }

    #[test]
    fn rejects_what_rfc_8259_does_not_allow() {
        for doc in [
            "[1]",
            "{} {}",
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{,}",
            "{'a':1}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":1e}",
            "{\"a\":+1}",
            "{\"a\":-}",
            "{\"a\":tru}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\t\"}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":\"\\udc00\\ud800\"}",
            "{\"a\":[1,]}",
            "{\"a\":NaN}",
            "{\"a\":Infinity}",
        ] {
            assert_eq!(
                parse_object(doc.as_bytes(), "header"),
                Err(JwtError::InvalidJson { part: "header" }),
                "{doc}"
            );
        }
        assert_eq!(
            parse_object(b"{\"a\":\"\xff\"}", "payload"),
            Err(JwtError::InvalidUtf8 { part: "payload" })
        );
        let deep = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        assert!(parse_object(deep.as_bytes(), "payload").is_err());
        let ok = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert!(parse_object(ok.as_bytes(), "payload").is_ok());
        assert!(parse_object(b" \n{ \"a\" : [ 1 , -0.5e+3 ] }\t", "payload").is_ok());
    }

    #[test]
    fn heap_sort_sorts_like_the_standard_sort() {
        let words: Vec<String> = (0..300u32)
            .map(|i| format!("k{}", i.wrapping_mul(2_654_435_761) % 97))
            .collect();
        for len in [0, 1, 2, 3, 17, 64, 300] {
            let mut ours: Vec<&str> = words[..len].iter().map(String::as_str).collect();
            let mut theirs = ours.clone();
            heap_sort(&mut ours);
            theirs.sort_unstable();
            assert_eq!(ours, theirs, "{len}");
        }
    }

    #[test]
    fn numbers_floor_exactly_without_floats() {
        let number = |text: &str| Number(text.to_owned());
        let max = 253_402_300_799;
        for (text, floor) in [
            ("0", Some(0)),
            ("-0", Some(0)),
            ("1.9", Some(1)),
            ("1e3", Some(1000)),
            ("1E+3", Some(1000)),
            ("2.5e-1", Some(0)),
            ("12345.678e2", Some(1_234_567)),
            ("0.00001e10", Some(100_000)),
            ("253402300799", Some(max)),
            ("123456789012345678", None),
            ("253402300799.999", Some(max)),
            ("253402300800", None),
            ("2.534023008e11", None),
            ("-1", None),
            ("-0.5", None),
            ("1e300", None),
            ("1e-300", Some(0)),
            ("9223372036854775808", None),
            ("1e99999999999999999999", None),
            ("0e999999999", Some(0)),
            ("0.0", Some(0)),
        ] {
            assert_eq!(number(text).floor_within(0, max), floor, "{text}");
        }
        // The i64 edges, beyond any NumericDate: exact, and no overflow past them.
        for (text, floor) in [
            ("9223372036854775807", Some(i64::MAX)),
            ("999999999999999999", Some(999_999_999_999_999_999)),
            ("9223372036854775807.5", Some(i64::MAX)),
            ("922337203685477580.7e1", Some(i64::MAX)),
            ("922337203685477580.8e1", None),
            ("-9223372036854775807.5", Some(i64::MIN)),
            ("-9223372036854775808", None),
        ] {
            assert_eq!(
                number(text).floor_within(i64::MIN, i64::MAX),
                floor,
                "{text}"
            );
        }
        assert_eq!(number("-5").as_i64(), Some(-5));
        assert_eq!(number("18446744073709551615").as_u64(), Some(u64::MAX));
        assert_eq!(number("1.0").as_i64(), None);
    }
}
