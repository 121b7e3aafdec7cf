//! The static types of the checker, and how the documented schema's type names map to them.

use crate::schema;
use std::fmt;

/// The static type of an expression.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Ty {
    Int,
    Double,
    Str,
    Bool,
    Null,
    List(Box<Ty>),
    /// `map(string, dyn)`: member attributes.
    Map,
    Dyn,
    /// A documented object (`purchase`, `item`, ...): a map with fixed fields.
    Obj(&'static str),
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Int => f.write_str("int"),
            Ty::Double => f.write_str("double"),
            Ty::Str => f.write_str("string"),
            Ty::Bool => f.write_str("bool"),
            Ty::Null => f.write_str("null"),
            Ty::List(t) => write!(f, "list({t})"),
            Ty::Map => f.write_str("map(string, dyn)"),
            Ty::Dyn => f.write_str("dyn"),
            Ty::Obj(name) => f.write_str(name),
        }
    }
}

impl Ty {
    pub(crate) fn of_path(path: &str) -> Option<Ty> {
        let (path, ty, _) = schema::schema().iter().find(|(p, _, _)| *p == path)?;
        Some(match *ty {
            "int" => Ty::Int,
            "double" => Ty::Double,
            "string" => Ty::Str,
            "bool" => Ty::Bool,
            "list(string)" => Ty::List(Box::new(Ty::Str)),
            "list(item)" => Ty::List(Box::new(Ty::Obj("item"))),
            "map(string, dyn)" => Ty::Map,
            "object" => Ty::Obj(path),
            _ => Ty::Dyn,
        })
    }

    pub(crate) fn numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Double)
    }

    /// Whether `==` between the two can be true: same type, numbers, null or dyn.
    pub(crate) fn comparable(&self, other: &Ty) -> bool {
        match (self, other) {
            (Ty::Dyn | Ty::Null, _) | (_, Ty::Dyn | Ty::Null) => true,
            (Ty::List(a), Ty::List(b)) => a.comparable(b),
            (a, b) => a == b || (a.numeric() && b.numeric()),
        }
    }
}
