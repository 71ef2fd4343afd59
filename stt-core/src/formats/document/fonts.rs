//! Fonts for PDF export: found among the installed fonts or given as files, parsed once (which
//! takes a while for CJK fonts), then asked which face has each character and subset to the
//! glyphs a document uses.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use allsorts::binary::read::ReadScope;
use allsorts::font_data::FontData;
use allsorts::subset::{CmapTarget, SubsetProfile, subset};
use allsorts::tables::cmap::Cmap;
use allsorts::tables::{FontTableProvider, HeadTable, HheaTable, HmtxTable, MaxpTable, NameTable};
use allsorts::tables::{OpenTypeData, OpenTypeFont};
use allsorts::tag;
use printpdf::ParsedFont;

use crate::{Error, Result};

/// Where Linux distributions and users install fonts.
const FONT_DIRS: [&str; 2] = ["/usr/share/fonts", "/usr/local/share/fonts"];
const USER_FONT_DIRS: [&str; 2] = [".local/share/fonts", ".fonts"];

/// Regular and bold files of the main font, best first: they cover Latin, Greek and Cyrillic.
const MAIN_FONTS: [(&str, &str); 3] = [
    // Debian fonts-dejavu-core.
    ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    // fonts-noto-core.
    ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),
    // fonts-liberation2.
    ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
];

/// Fonts for the characters the main font lacks, best first: Chinese, Japanese, Korean.
const FALLBACK_FONTS: [&str; 2] = [
    // fonts-noto-cjk: one collection with a face per region.
    "NotoSansCJK-Regular.ttc",
    // fonts-wqy-zenhei.
    "wqy-zenhei.ttc",
];

/// The region faces of a CJK collection and the Whisper language each one is drawn for (the
/// same character has different shapes in each region); other faces are not loaded.
const REGION_FACES: [(&str, &str); 4] =
    [(" JP", "ja"), (" KR", "ko"), (" SC", "zh"), (" HK", "yue")];

/// One face of a font file, with what layout needs: its character map and advance widths.
pub(super) struct Face {
    path: PathBuf,
    bytes: Arc<[u8]>,
    index: usize,
    /// The language it is drawn for, for one region's face of a CJK collection.
    language: Option<&'static str>,
    /// PostScript name, for the PDF's font dictionary.
    name: String,
    glyphs: HashMap<u32, u16>,
    advances: Vec<u16>,
    units_per_em: f32,
}

fn invalid(path: &Path, message: impl ToString) -> Error {
    Error::io(
        path,
        io::Error::new(io::ErrorKind::InvalidData, message.to_string()),
    )
}

impl Face {
    fn parse(path: &Path, bytes: Arc<[u8]>, index: usize) -> Result<Face> {
        let fail = |e: &dyn std::fmt::Display| invalid(path, format!("font face {index}: {e}"));
        let font = ReadScope::new(&bytes)
            .read::<FontData<'_>>()
            .map_err(|e| fail(&e))?;
        let provider = font.table_provider(index).map_err(|e| fail(&e))?;
        let table = |tag| provider.read_table_data(tag).map_err(|e| fail(&e));
        let head_data = table(tag::HEAD)?;
        let head = ReadScope::new(&head_data)
            .read::<HeadTable>()
            .map_err(|e| fail(&e))?;
        let maxp_data = table(tag::MAXP)?;
        let maxp = ReadScope::new(&maxp_data)
            .read::<MaxpTable>()
            .map_err(|e| fail(&e))?;
        let hhea_data = table(tag::HHEA)?;
        let hhea = ReadScope::new(&hhea_data)
            .read::<HheaTable>()
            .map_err(|e| fail(&e))?;
        let hmtx_data = table(tag::HMTX)?;
        let hmtx = ReadScope::new(&hmtx_data)
            .read_dep::<HmtxTable<'_>>((
                usize::from(maxp.num_glyphs),
                usize::from(hhea.num_h_metrics),
            ))
            .map_err(|e| fail(&e))?;
        let advances = (0..maxp.num_glyphs)
            .map(|gid| hmtx.horizontal_advance(gid).unwrap_or(0))
            .collect();
        let cmap_data = table(tag::CMAP)?;
        let cmap = ReadScope::new(&cmap_data)
            .read::<Cmap<'_>>()
            .map_err(|e| fail(&e))?;
        let (_, subtable) = allsorts::font::read_cmap_subtable(&cmap)
            .map_err(|e| fail(&e))?
            .ok_or_else(|| fail(&"no Unicode character map"))?;
        let mut glyphs = HashMap::new();
        subtable
            .mappings_fn(|c, gid| {
                glyphs.insert(c, gid);
            })
            .map_err(|e| fail(&e))?;
        Ok(Face {
            path: path.to_path_buf(),
            bytes: bytes.clone(),
            index,
            language: None,
            name: name(&font, index, NameTable::POSTSCRIPT_NAME).unwrap_or_else(|| "Font".into()),
            glyphs,
            advances,
            units_per_em: f32::from(head.units_per_em.max(1)),
        })
    }

    /// The faces worth having from a file: the only face, or the first face of each region of
    /// a CJK collection (its first face when none is named for a region).
    fn load(path: &Path) -> Result<Vec<Face>> {
        let bytes: Arc<[u8]> = std::fs::read(path).map_err(|e| Error::io(path, e))?.into();
        let font = ReadScope::new(&bytes)
            .read::<FontData<'_>>()
            .map_err(|e| invalid(path, e))?;
        let count = match &font {
            FontData::OpenType(OpenTypeFont {
                data: OpenTypeData::Collection(collection),
                ..
            }) => collection.offset_tables.len(),
            _ => 1,
        };
        let mut faces = Vec::new();
        for index in 0..count {
            let family = name(&font, index, NameTable::TYPOGRAPHIC_FAMILY_NAME)
                .or_else(|| name(&font, index, NameTable::FONT_FAMILY_NAME));
            let language = family.and_then(|family| {
                REGION_FACES
                    .iter()
                    .find(|(suffix, _)| family.ends_with(suffix))
                    .map(|(_, language)| *language)
            });
            let new_region =
                language.is_some() && faces.iter().all(|f: &Face| f.language != language);
            if count == 1 || new_region {
                let mut face = Face::parse(path, bytes.clone(), index)?;
                face.language = language;
                faces.push(face);
            }
        }
        if faces.is_empty() {
            faces.push(Face::parse(path, bytes, 0)?);
        }
        Ok(faces)
    }

    fn glyph(&self, c: char) -> Option<u16> {
        self.glyphs.get(&u32::from(c)).copied()
    }

    /// Advance width of a glyph, in ems.
    pub(super) fn advance(&self, gid: u16) -> f32 {
        f32::from(self.advances.get(usize::from(gid)).copied().unwrap_or(0)) / self.units_per_em
    }

    /// The face with only `gids` (and `.notdef`), ready to embed, and where each glyph went.
    pub(super) fn subset(&self, gids: &BTreeSet<u16>) -> Result<(ParsedFont, HashMap<u16, u16>)> {
        let font = ReadScope::new(&self.bytes)
            .read::<FontData<'_>>()
            .map_err(|e| invalid(&self.path, e))?;
        let provider = font
            .table_provider(self.index)
            .map_err(|e| invalid(&self.path, e))?;
        // allsorts wants .notdef first and numbers the new glyphs in the order given.
        let ids: Vec<u16> = std::iter::once(0)
            .chain(gids.iter().copied().filter(|&gid| gid != 0))
            .collect();
        let program = subset(&provider, &ids, &SubsetProfile::Pdf, CmapTarget::Unicode)
            .map_err(|e| invalid(&self.path, format!("subsetting: {e}")))?;
        let mut warnings = Vec::new();
        let mut parsed = ParsedFont::from_bytes(&program, 0, &mut warnings)
            .ok_or_else(|| invalid(&self.path, format!("subset unreadable: {warnings:?}")))?;
        parsed.font_name = Some(format!("{}+{}", subset_tag(&ids), self.name));
        let renumbered = ids.iter().zip(0..).map(|(&old, new)| (old, new)).collect();
        Ok((parsed, renumbered))
    }
}

/// The six capital letters that name a subset of a font in a PDF (ISO 32000-1, 9.6.4), from
/// the glyphs it has (FNV-1a).
fn subset_tag(gids: &[u16]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for gid in gids {
        hash = (hash ^ u64::from(*gid)).wrapping_mul(0x0100_0000_01b3);
    }
    (0..6)
        .map(|i| char::from(b'A' + ((hash >> (i * 5)) % 26) as u8))
        .collect()
}

/// One of the names of a face (family, PostScript name...).
fn name(font: &FontData<'_>, index: usize, id: u16) -> Option<String> {
    let provider = font.table_provider(index).ok()?;
    let data = provider.read_table_data(tag::NAME).ok()?;
    let names = ReadScope::new(&data).read::<NameTable<'_>>().ok()?;
    names.string_for_id(id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Weight {
    Regular,
    Bold,
}

/// The fonts a PDF is drawn with: a main font (regular and bold) and fallbacks for what it
/// lacks. Parsing takes a while (a CJK collection, tens of milliseconds), so keep one and
/// reuse it for every document; it can be shared between threads.
pub struct Fonts {
    /// Regular, bold, then the fallbacks.
    faces: Vec<Face>,
}

impl Fonts {
    /// The installed fonts: DejaVu Sans (Debian `fonts-dejavu-core`) or another main font for
    /// Latin, Greek and Cyrillic, and Noto Sans CJK (`fonts-noto-cjk`) for Chinese, Japanese and
    /// Korean when it is there. Fails only without a main font.
    pub fn system() -> Result<Fonts> {
        let mut dirs: Vec<PathBuf> = FONT_DIRS.iter().map(PathBuf::from).collect();
        if let Some(home) = std::env::var_os("HOME") {
            dirs.extend(USER_FONT_DIRS.iter().map(|dir| Path::new(&home).join(dir)));
        }
        let mut files = HashMap::new();
        for dir in &dirs {
            index_fonts(dir, 0, &mut files);
        }
        let Some((regular, bold)) = MAIN_FONTS
            .iter()
            .find_map(|(regular, bold)| Some((files.get(*regular)?, files.get(*bold)?)))
        else {
            let looked_in: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            return Err(Error::io(
                MAIN_FONTS[0].0,
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "no font for PDF export in {}; install the Debian package \
                         fonts-dejavu-core",
                        looked_in.join(", ")
                    ),
                ),
            ));
        };
        let fallbacks: Vec<PathBuf> = FALLBACK_FONTS
            .iter()
            .filter_map(|name| files.get(*name).cloned())
            .collect();
        Fonts::from_files(regular, bold, &fallbacks)
    }

    /// Given fonts: the main font's regular and bold files, and fallbacks tried in order for
    /// characters the main font lacks. A font collection contributes its first face, or the
    /// faces of its regions (`JP`, `KR`, `SC`, `HK`) when it names them.
    pub fn from_files(
        regular: impl AsRef<Path>,
        bold: impl AsRef<Path>,
        fallbacks: &[PathBuf],
    ) -> Result<Fonts> {
        let mut faces = Vec::new();
        for main in [regular.as_ref(), bold.as_ref()] {
            let face = Face::load(main)?.into_iter().next();
            faces.extend(face);
        }
        for path in fallbacks {
            faces.extend(Face::load(path)?);
        }
        Ok(Fonts { faces })
    }

    pub(super) fn face(&self, face: usize) -> &Face {
        &self.faces[face]
    }

    pub(super) fn len(&self) -> usize {
        self.faces.len()
    }

    /// The order in which faces are asked for a character: the weight's own face, the
    /// regular one, the fallbacks drawn for `language`, then the other fallbacks.
    pub(super) fn order(&self, weight: Weight, language: &str) -> Vec<usize> {
        let mut order = match weight {
            Weight::Regular => vec![0],
            Weight::Bold => vec![1, 0],
        };
        let fallbacks = 2..self.faces.len();
        order.extend(
            fallbacks
                .clone()
                .filter(|&i| self.faces[i].language == Some(language)),
        );
        order.extend(fallbacks.filter(|&i| self.faces[i].language != Some(language)));
        order
    }

    /// The first face in `order` that has `c`, and its glyph; without one, the first face's
    /// missing-glyph box.
    pub(super) fn glyph(&self, order: &[usize], c: char) -> (usize, u16) {
        order
            .iter()
            .find_map(|&face| Some((face, self.faces[face].glyph(c)?)))
            .unwrap_or((order[0], 0))
    }
}

/// The faces by file and index (their tables would fill screens).
impl std::fmt::Debug for Fonts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let faces = self
            .faces
            .iter()
            .map(|face| format!("{}#{}", face.path.display(), face.index));
        f.debug_list().entries(faces).finish()
    }
}

/// Maps font file names to their paths under `dir`, keeping the first found.
fn index_fonts(dir: &Path, depth: usize, files: &mut HashMap<String, PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if depth < 4 {
                index_fonts(&path, depth + 1, files);
            }
        } else if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
            files.entry(name.to_string()).or_insert(path);
        }
    }
}

/// The installed fonts, parsed once for all the tests.
#[cfg(test)]
pub(super) fn system_fonts() -> &'static Fonts {
    static FONTS: std::sync::OnceLock<Fonts> = std::sync::OnceLock::new();
    FONTS.get_or_init(|| Fonts::system().expect("installed fonts (see scripts/setup.sh)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cjk_characters_take_their_language_face() {
        let fonts = system_fonts();
        assert!(fonts.len() > 2, "no CJK font: install fonts-noto-cjk");
        let latin = fonts.glyph(&fonts.order(Weight::Regular, "ja"), 'Ж');
        assert_eq!(latin.0, 0);
        let bold = fonts.glyph(&fonts.order(Weight::Bold, "en"), 'Ж');
        assert_eq!(bold.0, 1);
        let face = |language| fonts.glyph(&fonts.order(Weight::Regular, language), '骨').0;
        assert!(face("ja") > 1);
        assert_eq!(fonts.face(face("zh")).language, Some("zh"));
        assert_eq!(fonts.face(face("ja")).language, Some("ja"));
        assert_eq!(fonts.face(face("ko")).language, Some("ko"));
        // One face per region (not the collection's monospaced ones too).
        let japanese = (0..fonts.len()).filter(|&i| fonts.face(i).language == Some("ja"));
        assert_eq!(japanese.count(), 1);
        // Nothing has a private-use character: the main font's missing-glyph box.
        assert_eq!(
            fonts.glyph(&fonts.order(Weight::Bold, "en"), '\u{E000}'),
            (1, 0)
        );
    }

    #[test]
    fn fonts_can_be_kept_for_all_threads() {
        fn shared<T: Send + Sync + std::fmt::Debug>(_: &T) {}
        shared(system_fonts());
        assert!(format!("{:?}", system_fonts()).contains("DejaVuSans.ttf#0"));
    }

    #[test]
    fn missing_fonts_are_io_errors() {
        let error = Fonts::from_files("/nonexistent/a.ttf", "/nonexistent/b.ttf", &[])
            .expect_err("no such font");
        assert_eq!(error.kind(), crate::ErrorKind::Io);
        assert!(error.to_string().contains("/nonexistent/a.ttf"), "{error}");
        let not_a_font = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let error = Fonts::from_files(&not_a_font, &not_a_font, &[]).expect_err("not a font");
        assert_eq!(error.kind(), crate::ErrorKind::Io);
    }
}
