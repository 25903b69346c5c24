//! How the fuzz targets cut their input: the chosen `sizes` (each byte
//! plus one, cycled), or the whole input at once when there are none. One
//! definition, so "whole and split give the same result" means the same
//! split everywhere.

/// The pieces of `body`, cut by `sizes`.
pub fn chunks<'a>(body: &'a [u8], sizes: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = body;
    let mut i = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = match sizes {
            [] => rest.len(),
            _ => 1 + usize::from(sizes[i % sizes.len()]),
        };
        i += 1;
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        Some(chunk)
    })
}
