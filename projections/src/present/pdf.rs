//! The detalization as a printable PDF: A4 pages with a heading, a table of items that repeats
//! its header on every page, page numbers, and totals per service on the last page. The
//! operator mails it to the subscriber, so it uses only the PDF standard fonts (nothing to embed).

use crate::export::Report;
use printpdf::{
    BuiltinFont, CustomPdfConformance, IndirectFontRef, Line, Mm, PdfConformance, PdfDocument,
    PdfLayerReference, Point,
};

const WIDTH: f32 = 210.0;
const HEIGHT: f32 = 297.0;
const MARGIN: f32 = 14.0;
const ROW: f32 = 4.6;
const TOP: f32 = HEIGHT - MARGIN - 22.0;
const BOTTOM: f32 = MARGIN + 10.0;
/// Rows of items on one page.
pub const ROWS_PER_PAGE: usize = ((TOP - BOTTOM) / ROW) as usize - 1;
/// The longest report laid out (a year of a very busy number is far less).
pub const MAX_ROWS: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("a report of {0} rows is longer than {MAX_ROWS}")]
    TooLong(usize),
    #[error("the rendering was stopped after {after} rows (its client went away, or the server is stopping)")]
    Stopped { after: usize },
    #[error("PDF: {0}")]
    Pdf(String),
}

/// Column x positions (mm) and headings.
const COLUMNS: [(f32, &str); 8] = [
    (MARGIN, "Date and time"),
    (MARGIN + 34.0, "Service"),
    (MARGIN + 50.0, "Dir"),
    (MARGIN + 58.0, "Other party"),
    (MARGIN + 90.0, "Quantity"),
    (MARGIN + 112.0, "From packages"),
    (MARGIN + 138.0, "Charged"),
    (MARGIN + 160.0, "Balance"),
];

/// Text safe for the standard fonts' encoding: other characters become '?'.
fn plain(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

struct Fonts {
    regular: IndirectFontRef,
    bold: IndirectFontRef,
}

fn rule(layer: &PdfLayerReference, y: f32) {
    layer.set_outline_thickness(0.3);
    layer.add_line(Line {
        points: vec![
            (Point::new(Mm(MARGIN), Mm(y)), false),
            (Point::new(Mm(WIDTH - MARGIN), Mm(y)), false),
        ],
        is_closed: false,
    });
}

fn heading(layer: &PdfLayerReference, f: &Fonts, r: &Report, page: usize, pages: usize) {
    layer.use_text(
        format!("Detalization of +{}", r.msisdn),
        15.0,
        Mm(MARGIN),
        Mm(HEIGHT - MARGIN - 4.0),
        &f.bold,
    );
    layer.use_text(
        plain(&format!(
            "{} to {} ({}), amounts in {}",
            r.from, r.to, r.time_zone, r.currency
        )),
        9.0,
        Mm(MARGIN),
        Mm(HEIGHT - MARGIN - 10.0),
        &f.regular,
    );
    layer.use_text(
        format!("Page {page} of {pages}"),
        8.0,
        Mm(WIDTH - MARGIN - 22.0),
        Mm(MARGIN),
        &f.regular,
    );
    for (x, title) in COLUMNS {
        layer.use_text(title, 8.0, Mm(x), Mm(TOP + 1.5), &f.bold);
    }
    rule(layer, TOP);
}

/// Lays the report out; the bytes of a complete PDF file.
pub fn render(r: &Report) -> Result<Vec<u8>, PdfError> {
    render_until(r, &|| false)
}

/// [`render`], asking `stop` before each page: a report nobody will read any more is not laid
/// out to its end (a page is some 60 rows, a few milliseconds).
pub fn render_until(r: &Report, stop: &dyn Fn() -> bool) -> Result<Vec<u8>, PdfError> {
    if r.rows.len() > MAX_ROWS {
        return Err(PdfError::TooLong(r.rows.len()));
    }
    // The totals need a few rows of their own after the items.
    let totals_rows = r.totals.len() + 4;
    let pages = (r.rows.len() + totals_rows).div_ceil(ROWS_PER_PAGE).max(1);
    let (doc, page1, layer1) = PdfDocument::new(
        format!("Detalization of +{}", r.msisdn),
        Mm(WIDTH),
        Mm(HEIGHT),
        "items",
    );
    let doc = doc.with_conformance(PdfConformance::Custom(CustomPdfConformance {
        requires_icc_profile: false,
        requires_xmp_metadata: false,
        ..Default::default()
    }));
    let err = |e: printpdf::Error| PdfError::Pdf(e.to_string());
    let f = Fonts {
        regular: doc.add_builtin_font(BuiltinFont::Helvetica).map_err(err)?,
        bold: doc
            .add_builtin_font(BuiltinFont::HelveticaBold)
            .map_err(err)?,
    };
    let mut layer = doc.get_page(page1).get_layer(layer1);
    heading(&layer, &f, r, 1, pages);
    let mut page = 1;
    let mut line = 0;
    let mut next_line = |layer: &mut PdfLayerReference, page: &mut usize| {
        if line == ROWS_PER_PAGE {
            *page += 1;
            let (p, l) = doc.add_page(Mm(WIDTH), Mm(HEIGHT), "items");
            *layer = doc.get_page(p).get_layer(l);
            heading(layer, &f, r, *page, pages);
            line = 0;
        }
        line += 1;
        TOP - ROW * line as f32
    };
    for (i, row) in r.rows.iter().enumerate() {
        if i % ROWS_PER_PAGE == 0 && stop() {
            return Err(PdfError::Stopped { after: i });
        }
        let y = next_line(&mut layer, &mut page);
        let cells = [
            &row.time,
            &row.service,
            &row.direction,
            &row.other,
            &row.quantity,
            &row.from_packages,
            &row.money,
            &row.balance_after,
        ];
        for ((x, _), text) in COLUMNS.iter().zip(cells) {
            layer.use_text(plain(text), 7.5, Mm(*x), Mm(y), &f.regular);
        }
    }
    next_line(&mut layer, &mut page);
    let y = next_line(&mut layer, &mut page);
    layer.use_text("Totals", 10.0, Mm(MARGIN), Mm(y), &f.bold);
    for t in &r.totals {
        let y = next_line(&mut layer, &mut page);
        layer.use_text(
            format!("{}: {} items", t.service, t.items),
            8.0,
            Mm(MARGIN),
            Mm(y),
            &f.regular,
        );
        layer.use_text(plain(&t.money), 8.0, Mm(COLUMNS[6].0), Mm(y), &f.regular);
    }
    let y = next_line(&mut layer, &mut page);
    layer.use_text("Total charged", 8.5, Mm(MARGIN), Mm(y), &f.bold);
    layer.use_text(
        plain(&format!("{} {}", r.total_money, r.currency)),
        8.5,
        Mm(COLUMNS[6].0),
        Mm(y),
        &f.bold,
    );
    assert!(page <= pages, "the page count printed on every page holds");
    doc.save_to_bytes().map_err(err)
}
