//! The detalization as a printable PDF: A4 pages with a heading, a table of items that repeats
//! its header on every page, page numbers, and totals per service on the last page. The
//! operator mails it to the subscriber, so it uses only the PDF standard fonts (nothing to embed).

use crate::export::Report;
use printpdf::{
    BuiltinFont, CustomPdfConformance, IndirectFontRef, Line, Mm, PdfConformance, PdfDocument,
    PdfDocumentReference, PdfLayerReference, Point,
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
fn plain(text: &str) -> String {
    text.chars()
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

fn rule(layer: &PdfLayerReference, height: f32) {
    layer.set_outline_thickness(0.3);
    layer.add_line(Line {
        points: vec![
            (Point::new(Mm(MARGIN), Mm(height)), false),
            (Point::new(Mm(WIDTH - MARGIN), Mm(height)), false),
        ],
        is_closed: false,
    });
}

fn heading(layer: &PdfLayerReference, fonts: &Fonts, report: &Report, page: usize, pages: usize) {
    layer.use_text(
        report.title(),
        15.0,
        Mm(MARGIN),
        Mm(HEIGHT - MARGIN - 4.0),
        &fonts.bold,
    );
    layer.use_text(
        plain(&format!(
            "{} to {} ({}), amounts in {}",
            report.from, report.to, report.time_zone, report.currency
        )),
        9.0,
        Mm(MARGIN),
        Mm(HEIGHT - MARGIN - 10.0),
        &fonts.regular,
    );
    layer.use_text(
        format!("Page {page} of {pages}"),
        8.0,
        Mm(WIDTH - MARGIN - 22.0),
        Mm(MARGIN),
        &fonts.regular,
    );
    for (x, title) in COLUMNS {
        layer.use_text(title, 8.0, Mm(x), Mm(TOP + 1.5), &fonts.bold);
    }
    rule(layer, TOP);
}

/// Lays the report out; the bytes of a complete PDF file.
pub fn render(report: &Report) -> Result<Vec<u8>, PdfError> {
    render_until(report, &|| false)
}

/// [`render`], asking `stop` before each page: a report nobody will read any more is not laid
/// out to its end (a page is some 60 rows, a few milliseconds).
pub fn render_until(report: &Report, stop: &dyn Fn() -> bool) -> Result<Vec<u8>, PdfError> {
    if report.rows.len() > MAX_ROWS {
        return Err(PdfError::TooLong(report.rows.len()));
    }
    let mut pages = Pages::new(report)?;
    for (i, row) in report.rows.iter().enumerate() {
        if i % ROWS_PER_PAGE == 0 && stop() {
            return Err(PdfError::Stopped { after: i });
        }
        let y = pages.next_line();
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
            (pages.layer).use_text(plain(text), 7.5, Mm(*x), Mm(y), &pages.fonts.regular);
        }
    }
    pages.totals();
    assert!(
        pages.page <= pages.pages,
        "the page count printed on every page holds"
    );
    pages.doc.save_to_bytes().map_err(pdf_error)
}

fn pdf_error(error: printpdf::Error) -> PdfError {
    PdfError::Pdf(error.to_string())
}

/// The document being laid out, and where the next line goes.
struct Pages<'a> {
    report: &'a Report,
    doc: PdfDocumentReference,
    fonts: Fonts,
    layer: PdfLayerReference,
    /// This page's number, and how many there are.
    page: usize,
    pages: usize,
    /// The line of this page last written.
    line: usize,
}

impl<'a> Pages<'a> {
    /// A document with its first page headed.
    fn new(report: &'a Report) -> Result<Pages<'a>, PdfError> {
        // The totals need a few rows of their own after the items.
        let totals_rows = report.totals.len() + 4;
        let pages = (report.rows.len() + totals_rows)
            .div_ceil(ROWS_PER_PAGE)
            .max(1);
        let (doc, page1, layer1) = PdfDocument::new(report.title(), Mm(WIDTH), Mm(HEIGHT), "items");
        let doc = doc.with_conformance(PdfConformance::Custom(CustomPdfConformance {
            requires_icc_profile: false,
            requires_xmp_metadata: false,
            ..Default::default()
        }));
        let fonts = Fonts {
            regular: (doc.add_builtin_font(BuiltinFont::Helvetica)).map_err(pdf_error)?,
            bold: (doc.add_builtin_font(BuiltinFont::HelveticaBold)).map_err(pdf_error)?,
        };
        let layer = doc.get_page(page1).get_layer(layer1);
        heading(&layer, &fonts, report, 1, pages);
        Ok(Pages {
            report,
            doc,
            fonts,
            layer,
            page: 1,
            pages,
            line: 0,
        })
    }

    /// The height of the next line, on a new page (headed) when this one is full.
    fn next_line(&mut self) -> f32 {
        if self.line == ROWS_PER_PAGE {
            self.page += 1;
            let (p, l) = self.doc.add_page(Mm(WIDTH), Mm(HEIGHT), "items");
            self.layer = self.doc.get_page(p).get_layer(l);
            heading(&self.layer, &self.fonts, self.report, self.page, self.pages);
            self.line = 0;
        }
        self.line += 1;
        TOP - ROW * self.line as f32
    }

    /// The totals per service and the total charged, after a blank line.
    fn totals(&mut self) {
        let r = self.report;
        self.next_line();
        let y = self.next_line();
        (self.layer).use_text("Totals", 10.0, Mm(MARGIN), Mm(y), &self.fonts.bold);
        for t in &r.totals {
            let y = self.next_line();
            self.layer.use_text(
                format!("{}: {} items", t.service, t.items),
                8.0,
                Mm(MARGIN),
                Mm(y),
                &self.fonts.regular,
            );
            let x = Mm(COLUMNS[6].0);
            (self.layer).use_text(plain(&t.money), 8.0, x, Mm(y), &self.fonts.regular);
        }
        let y = self.next_line();
        (self.layer).use_text("Total charged", 8.5, Mm(MARGIN), Mm(y), &self.fonts.bold);
        self.layer.use_text(
            plain(&format!("{} {}", r.total_money, r.currency)),
            8.5,
            Mm(COLUMNS[6].0),
            Mm(y),
            &self.fonts.bold,
        );
    }
}
