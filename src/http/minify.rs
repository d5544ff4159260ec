//! Minifies the customer script once when the server starts, with oxc's minifier: the sources
//! stay readable in the repository (no build step), while every visitor of the customers'
//! sites downloads them compressed and with short local names.
//!
//! Each file is minified as an ES module on its own (the browser loads them as modules), so
//! names that other modules import stay as written and only what a module keeps to itself is
//! renamed.

use oxc_allocator::Allocator;
use oxc_codegen::{Codegen, CodegenOptions};
use oxc_minifier::{CompressOptions, MangleOptions, Minifier, MinifierOptions};
use oxc_parser::Parser;
use oxc_span::SourceType;

/// Why a source could not be minified; the caller then serves it as written.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Error(String);

/// `src` (an ES module) minified: comments and whitespace gone, local names shortened,
/// expressions folded.
pub fn minify(src: &str) -> Result<String, Error> {
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, src, SourceType::mjs()).parse();
    if let Some(first) = parsed.diagnostics.errors().next() {
        return Err(Error(first.to_string()));
    }
    if parsed.panicked {
        return Err(Error("the parser gave up".into()));
    }
    let mut program = parsed.program;
    let options = MinifierOptions {
        mangle: Some(MangleOptions::default()),
        compress: Some(CompressOptions::default()),
        ..MinifierOptions::default()
    };
    let minified = Minifier::new(options).minify(&allocator, &mut program);
    Ok(Codegen::new()
        .with_options(CodegenOptions::minify())
        .with_scoping(minified.scoping)
        .build(&program)
        .code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortens_local_names_and_keeps_exported_ones() {
        let src = "// head\n/** doc */\nexport function total(first, second) {\n  \
                   const sum = first + second; // why\n  return sum * factor;\n}\n\
                   const factor = 2;\nexport const label = 'a  /* b */';\n";
        let out = minify(src).unwrap();
        assert!(out.len() < src.len() / 2, "{out}");
        assert!(!out.contains("head") && !out.contains("why") && !out.contains("second"));
        assert!(out.contains("total") && out.contains("label"), "{out}");
        assert!(
            out.contains("a  /* b */"),
            "what is inside a literal is kept: {out}"
        );
    }

    #[test]
    fn keeps_imports_working() {
        let out = minify("import { state as s } from './core.js';\nexport const f = () => s.id;\n")
            .unwrap();
        assert!(out.contains("./core.js") && out.contains("state"), "{out}");
        assert!(out.contains("export") && out.contains(".id"), "{out}");
    }

    #[test]
    fn reports_what_does_not_parse() {
        let e = minify("const s = 'unterminated;\n").unwrap_err();
        assert!(!e.to_string().is_empty());
    }

    #[test]
    fn minifies_every_customer_module() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/customer");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "js") {
                let src = std::fs::read_to_string(&path).unwrap();
                let out = minify(&src).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(out.len() < src.len(), "{}", path.display());
                n += 1;
            }
        }
        assert!(n > 5);
    }
}
