//! vigil-import
