//! The D language: lexer, parser, AST.
