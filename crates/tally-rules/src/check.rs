//! Static checking of rule expressions.
//!
//! The `cel` crate parses and evaluates but has no type checker, so a typo such as
//! `purchase.totl` or `purchase.total * 2` (double by int, which cel refuses at run time) would
//! only show up when a customer buys something, as a rule that silently never matches. This
//! module walks the parsed AST once, when the rule is saved, and refuses anything that is not
//! known to evaluate: every name is a documented root (see [`crate::schema`]), every field
//! exists, every operator and function is applied to types cel accepts at run time. Values of
//! type `dyn` (member attributes) pass and are checked at run time.
//!
//! It also bounds what an operator can write: source length, AST size and comprehension nesting.
//! With at most 500 items per purchase (the domain's limit) and two levels of comprehension,
//! one evaluation touches at most 300 nodes × 500² element steps, and in practice a few hundred.

use crate::doc::Trigger;
use crate::facts::Needs;
use crate::schema;
use crate::types::Ty;
use cel::common::ast::{
    CallExpr, ComprehensionExpr, Expr, IdedExpr, LiteralValue, operators as op,
};
use cel::{Env, Program};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

pub(crate) const MAX_SOURCE_CHARS: usize = 1000;
pub(crate) const MAX_NODES: usize = 300;
pub(crate) const MAX_NESTING: usize = 2;

/// One environment for parsing and evaluating: the standard library and macros, no optional
/// syntax (`a.?b`), which the checker would refuse anyway.
pub(crate) static ENV: LazyLock<Arc<Env>> =
    LazyLock::new(|| Arc::new(Env::stdlib().with_optional_support(false)));

const ALLOWED: &str = "size, contains, startsWith, endsWith, int, double, string, has, all, \
    exists, exists_one, map, filter, in, ?:, arithmetic (+ - * / %), comparison and logic \
    (&& || !)";

/// What an expression must produce.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Want {
    Bool,
    Points,
}

/// Parses and checks `source`; `item` says whether the per-item variable is in scope.
pub(crate) fn compile(
    source: &str,
    trigger: Trigger,
    item: bool,
    want: Want,
) -> Result<Program, String> {
    compile_with_needs(source, trigger, item, want).map(|(program, _)| program)
}

/// [`compile`], with the parts of the context the expression reads.
pub(crate) fn compile_with_needs(
    source: &str,
    trigger: Trigger,
    item: bool,
    want: Want,
) -> Result<(Program, Needs), String> {
    compile_typed(source, trigger, item, want, None)
}

/// The declared properties of the event type an `event` rule reacts to, as the checker types
/// `event.properties.<name>`.
pub(crate) type Properties = BTreeMap<String, Ty>;

/// [`compile_with_needs`], with `event.properties` typed by the event type's declaration when
/// `properties` is given (an undeclared property is refused) rather than `dyn`.
pub(crate) fn compile_typed(
    source: &str,
    trigger: Trigger,
    item: bool,
    want: Want,
    properties: Option<&Properties>,
) -> Result<(Program, Needs), String> {
    if source.trim().is_empty() {
        return Err("must not be empty".into());
    }
    let chars = source.chars().count();
    if chars > MAX_SOURCE_CHARS {
        return Err(format!(
            "must be at most {MAX_SOURCE_CHARS} characters (is {chars})"
        ));
    }
    let program = ENV.compile(source).map_err(|e| match e.errors.first() {
        Some(first) => format!(
            "syntax error at line {} column {}: {}",
            first.pos.0, first.pos.1, first.msg
        ),
        None => "syntax error".to_owned(),
    })?;
    let nodes = count(program.expression());
    if nodes > MAX_NODES {
        return Err(format!(
            "is too complex: {nodes} parts after expanding macros, at most {MAX_NODES}"
        ));
    }
    let mut checker = Checker {
        trigger,
        item,
        vars: Vec::new(),
        depth: 0,
        program: &program,
        needs: Needs::default(),
        properties,
    };
    let ty = checker.check(program.expression())?;
    let needs = checker.needs;
    match want {
        Want::Bool if !matches!(ty, Ty::Bool | Ty::Dyn) => {
            Err(format!("must be true or false (a bool), but is {ty}"))
        }
        Want::Points if !matches!(ty, Ty::Int | Ty::Double | Ty::Dyn) => Err(format!(
            "must give a number of points (int or double), but is {ty}"
        )),
        _ => Ok((program, needs)),
    }
}

/// Whether `e` is `event.properties`.
fn is_event_properties(e: &IdedExpr) -> bool {
    matches!(&e.expr, Expr::Select(s) if s.field == "properties"
        && matches!(&s.operand.expr, Expr::Ident(root) if root == "event"))
}

/// AST nodes after macro expansion; recursion is bounded by the parser's depth limit.
fn count(e: &IdedExpr) -> usize {
    1 + match &e.expr {
        Expr::Call(c) => {
            c.target.as_deref().map_or(0, count) + c.args.iter().map(count).sum::<usize>()
        }
        Expr::Comprehension(c) => {
            count(&c.iter_range)
                + count(&c.accu_init)
                + count(&c.loop_cond)
                + count(&c.loop_step)
                + count(&c.result)
        }
        Expr::List(l) => l.elements.iter().map(count).sum(),
        Expr::Select(s) => count(&s.operand),
        Expr::Map(m) => m.entries.len() * 2,
        Expr::Struct(s) => s.entries.len(),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => 0,
    }
}

struct Checker<'p> {
    trigger: Trigger,
    item: bool,
    /// Comprehension variables in scope, innermost last.
    vars: Vec<(String, Ty)>,
    depth: usize,
    program: &'p Program,
    /// The parts of the context read so far.
    needs: Needs,
    /// `event.properties` as declared, when known.
    properties: Option<&'p Properties>,
}

impl Checker<'_> {
    fn err(&self, id: u64, msg: impl fmt::Display) -> String {
        match self.program.source_info().offset_for(id) {
            Some((start, _)) => format!("{msg} (at character {})", start + 1),
            None => msg.to_string(),
        }
    }

    fn check(&mut self, e: &IdedExpr) -> Result<Ty, String> {
        match &e.expr {
            Expr::Ident(name) => {
                let ty = self.ident(e.id, name)?;
                self.read(name, None);
                Ok(ty)
            }
            Expr::Literal(lit) => match lit {
                LiteralValue::Boolean(_) => Ok(Ty::Bool),
                LiteralValue::Int(_) => Ok(Ty::Int),
                LiteralValue::Double(_) => Ok(Ty::Double),
                LiteralValue::String(_) => Ok(Ty::Str),
                LiteralValue::Null => Ok(Ty::Null),
                LiteralValue::UInt(_) => {
                    Err(self.err(e.id, "unsigned numbers (1u) are not supported: write 1"))
                }
                LiteralValue::Bytes(_) => Err(self.err(e.id, "bytes are not supported")),
            },
            Expr::Select(s) => {
                let operand = match &s.operand.expr {
                    // `root.field` reads that field alone.
                    Expr::Ident(name) => {
                        let ty = self.ident(s.operand.id, name)?;
                        self.read(name, matches!(ty, Ty::Obj(_)).then_some(s.field.as_str()));
                        ty
                    }
                    _ => self.check(&s.operand)?,
                };
                let field = match &operand {
                    Ty::Obj("event")
                        if matches!(s.field.as_str(), "type" | "properties")
                            && self.trigger != Trigger::Event =>
                    {
                        return Err(self.err(
                            e.id,
                            format!(
                                "`event.{}` is only available for trigger event, not {}",
                                s.field,
                                self.trigger.as_str()
                            ),
                        ));
                    }
                    Ty::Obj(name) => {
                        Ty::of_path(&format!("{name}.{}", s.field)).ok_or_else(|| {
                            self.err(
                                e.id,
                                format!(
                                    "unknown field `{}` of {name}; known: {}",
                                    s.field,
                                    schema::fields_of(name).join(", ")
                                ),
                            )
                        })?
                    }
                    Ty::Map if is_event_properties(&s.operand) && self.properties.is_some() => {
                        let declared = self.properties.expect("checked in the guard");
                        declared.get(&s.field).cloned().ok_or_else(|| {
                            let names: Vec<&str> = declared.keys().map(String::as_str).collect();
                            self.err(
                                e.id,
                                format!(
                                    "the event type declares no property `{}`; declared: {}",
                                    s.field,
                                    if names.is_empty() {
                                        "none".to_owned()
                                    } else {
                                        names.join(", ")
                                    }
                                ),
                            )
                        })?
                    }
                    Ty::Map | Ty::Dyn => Ty::Dyn,
                    other => {
                        return Err(self.err(
                            e.id,
                            format!("cannot select field `{}` of {other}", s.field),
                        ));
                    }
                };
                Ok(if s.test { Ty::Bool } else { field })
            }
            Expr::List(list) => {
                let mut element: Option<Ty> = None;
                for item in &list.elements {
                    let t = self.check(item)?;
                    element = Some(match element {
                        Some(prev) if prev != t => Ty::Dyn,
                        _ => t,
                    });
                }
                Ok(Ty::List(Box::new(element.unwrap_or(Ty::Dyn))))
            }
            Expr::Map(_) | Expr::Struct(_) => {
                Err(self.err(e.id, "map and message literals are not supported"))
            }
            Expr::Comprehension(c) => self.comprehension(e.id, c),
            Expr::Call(c) => self.call(e.id, c),
            Expr::Unspecified => Err(self.err(e.id, "unsupported expression")),
        }
    }

    /// Records that the root `name`, or its `field`, is read (not a comprehension variable).
    fn read(&mut self, name: &str, field: Option<&str>) {
        if self.vars.iter().any(|(v, _)| v == name) {
            return;
        }
        let needs = match field {
            Some(field) => Needs::path(&format!("{name}.{field}")),
            None => Needs::path(name),
        };
        self.needs = self.needs.union(needs);
    }

    fn ident(&self, id: u64, name: &str) -> Result<Ty, String> {
        if let Some((_, t)) = self.vars.iter().rev().find(|(v, _)| v == name) {
            return Ok(t.clone());
        }
        match name {
            "item" if self.item => Ok(Ty::Obj("item")),
            "item" => Err(self.err(id, "`item` is only available in a per_item effect")),
            "purchase" if !self.trigger.has_order() => Err(self.err(
                id,
                format!(
                    "`purchase` is not available for trigger {}",
                    self.trigger.as_str()
                ),
            )),
            _ if schema::ROOTS.contains(&name) => {
                Ok(Ty::of_path(name).expect("every root is documented"))
            }
            _ => Err(self.err(
                id,
                format!(
                    "unknown name `{name}`; known: {}{}",
                    schema::ROOTS.join(", "),
                    if self.item { ", item" } else { "" }
                ),
            )),
        }
    }

    fn call(&mut self, id: u64, c: &CallExpr) -> Result<Ty, String> {
        let name = c.func_name.as_str();
        let target = match c.target.as_deref() {
            Some(t) => Some(self.check(t)?),
            None => None,
        };
        let args = c
            .args
            .iter()
            .map(|a| self.check(a))
            .collect::<Result<Vec<_>, _>>()?;
        let fail = |msg: String| Err(self.err(id, msg));
        match (name, target.as_ref(), args.as_slice()) {
            (op::LOGICAL_AND | op::LOGICAL_OR, None, [a, b]) => {
                for t in [a, b] {
                    if !matches!(t, Ty::Bool | Ty::Dyn) {
                        return fail(format!(
                            "{} needs bool operands, got {t}",
                            if name == op::LOGICAL_AND { "&&" } else { "||" }
                        ));
                    }
                }
                Ok(Ty::Bool)
            }
            (op::LOGICAL_NOT, None, [a]) => match a {
                Ty::Bool | Ty::Dyn => Ok(Ty::Bool),
                t => fail(format!("! needs a bool, got {t}")),
            },
            (op::NEGATE, None, [a]) => match a {
                Ty::Int | Ty::Double | Ty::Dyn => Ok(a.clone()),
                t => fail(format!("cannot negate {t}")),
            },
            (op::ADD | op::SUBSTRACT | op::MULTIPLY | op::DIVIDE | op::MODULO, None, [a, b]) => {
                arithmetic(name, a, b).or_else(fail)
            }
            (op::EQUALS | op::NOT_EQUALS, None, [a, b]) => {
                if a.comparable(b) {
                    Ok(Ty::Bool)
                } else {
                    fail(format!(
                        "cannot compare {a} with {b}: the result would always be the same"
                    ))
                }
            }
            (op::LESS | op::LESS_EQUALS | op::GREATER | op::GREATER_EQUALS, None, [a, b]) => {
                let ordered = |t: &Ty| matches!(t, Ty::Int | Ty::Double | Ty::Str | Ty::Bool);
                let ok = match (a, b) {
                    (Ty::Dyn, t) | (t, Ty::Dyn) => ordered(t) || *t == Ty::Dyn,
                    (a, b) => (a.numeric() && b.numeric()) || (ordered(a) && a == b),
                };
                if ok {
                    Ok(Ty::Bool)
                } else {
                    fail(format!("cannot order {a} and {b}"))
                }
            }
            (op::INDEX, None, [coll, key]) => match (coll, key) {
                (Ty::List(t), Ty::Int | Ty::Dyn) => Ok((**t).clone()),
                (Ty::Map, Ty::Str | Ty::Dyn) | (Ty::Dyn, _) => Ok(Ty::Dyn),
                (Ty::Obj(name), _) => fail(format!("write {name}.field instead of an index")),
                (coll, key) => fail(format!("cannot index {coll} with {key}")),
            },
            (op::IN, None, [x, coll]) => match coll {
                Ty::List(t) if x.comparable(t) => Ok(Ty::Bool),
                Ty::Map if matches!(x, Ty::Str | Ty::Dyn) => Ok(Ty::Bool),
                Ty::Dyn => Ok(Ty::Bool),
                Ty::List(_) | Ty::Map => fail(format!("{x} can never be in {coll}")),
                t => fail(format!("`in` needs a list or a map on the right, got {t}")),
            },
            (op::CONDITIONAL, None, [cond, a, b]) => {
                if !matches!(cond, Ty::Bool | Ty::Dyn) {
                    return fail(format!("the condition of ?: must be a bool, got {cond}"));
                }
                match (a, b) {
                    (a, b) if a == b => Ok(a.clone()),
                    (Ty::Dyn | Ty::Null, _) | (_, Ty::Dyn | Ty::Null) => Ok(Ty::Dyn),
                    (Ty::List(_), Ty::List(_)) => Ok(Ty::List(Box::new(Ty::Dyn))),
                    (a, b) if a.numeric() && b.numeric() => fail(format!(
                        "the branches of ?: are {a} and {b}: write 1.0 instead of 1, or use double(...)"
                    )),
                    (a, b) => fail(format!(
                        "the branches of ?: have different types {a} and {b}"
                    )),
                }
            }
            ("size", None, [t]) | ("size", Some(t), []) => match t {
                Ty::Str | Ty::List(_) | Ty::Map | Ty::Dyn => Ok(Ty::Int),
                t => fail(format!("size needs a string, list or map, got {t}")),
            },
            ("contains" | "startsWith" | "endsWith", Some(t), [arg]) => match (t, arg) {
                (Ty::Str | Ty::Dyn, Ty::Str | Ty::Dyn) => Ok(Ty::Bool),
                _ => fail(format!(
                    "{name} needs a string and a string argument, got {t}.{name}({arg})"
                )),
            },
            ("int" | "double", None, [t]) => match t {
                Ty::Int | Ty::Double | Ty::Str | Ty::Dyn => {
                    Ok(if name == "int" { Ty::Int } else { Ty::Double })
                }
                t => fail(format!("{name}() needs an int, double or string, got {t}")),
            },
            ("string", None, [t]) => match t {
                Ty::Int | Ty::Double | Ty::Str | Ty::Bool | Ty::Dyn => Ok(Ty::Str),
                t => fail(format!(
                    "string() needs an int, double, string or bool, got {t}"
                )),
            },
            (
                "size" | "contains" | "startsWith" | "endsWith" | "int" | "double" | "string",
                _,
                _,
            ) => fail(format!("wrong use of {name}; allowed: {ALLOWED}")),
            _ => fail(format!("`{name}` is not allowed; allowed: {ALLOWED}")),
        }
    }

    /// Macros expand into comprehensions; each standard macro has a known shape, from which
    /// the user's predicate or function is taken and checked with the variable bound.
    fn comprehension(&mut self, id: u64, c: &ComprehensionExpr) -> Result<Ty, String> {
        let range = self.check(&c.iter_range)?;
        let element = match range {
            Ty::List(t) => *t,
            Ty::Map => Ty::Str,
            Ty::Dyn => Ty::Dyn,
            t => return Err(self.err(id, format!("cannot iterate over {t}"))),
        };
        if self.depth >= MAX_NESTING {
            return Err(self.err(
                id,
                format!("macros (all, exists, map, ...) may be nested at most {MAX_NESTING} deep"),
            ));
        }
        if c.iter_var2.is_some() {
            return Err(self.err(id, "two-variable macros are not supported"));
        }
        self.depth += 1;
        self.vars.push((c.iter_var.clone(), element));
        let result = self.macro_body(id, c);
        self.vars.pop();
        self.depth -= 1;
        result
    }

    fn macro_body(&mut self, id: u64, c: &ComprehensionExpr) -> Result<Ty, String> {
        let step = match &c.loop_step.expr {
            Expr::Call(step) => step,
            _ => return Err(self.err(id, "unsupported macro")),
        };
        let accu = |e: &IdedExpr| matches!(&e.expr, Expr::Ident(n) if *n == c.accu_var);
        // `@result + [f]`: the appended function of map and filter.
        fn appended<'e>(e: &'e IdedExpr, accu: &dyn Fn(&IdedExpr) -> bool) -> Option<&'e IdedExpr> {
            match &e.expr {
                Expr::Call(add)
                    if add.func_name == op::ADD && add.args.len() == 2 && accu(&add.args[0]) =>
                {
                    match &add.args[1].expr {
                        Expr::List(l) if l.elements.len() == 1 => Some(&l.elements[0]),
                        _ => None,
                    }
                }
                _ => None,
            }
        }
        let init = &c.accu_init.expr;
        let bool_init = |b: bool| *init == Expr::Literal(LiteralValue::Boolean(b.into()));
        let name = step.func_name.as_str();
        let args = step.args.as_slice();
        if (bool_init(false) && name == op::LOGICAL_OR
            || bool_init(true) && name == op::LOGICAL_AND)
            && args.len() == 2
            && accu(&args[0])
        {
            self.predicate(&args[1])?;
            return Ok(Ty::Bool);
        }
        if *init == Expr::Literal(LiteralValue::Int(0.into()))
            && name == op::CONDITIONAL
            && args.len() == 3
        {
            self.predicate(&args[0])?;
            return Ok(Ty::Bool);
        }
        if matches!(init, Expr::List(l) if l.elements.is_empty()) {
            if let Some(f) = appended(&c.loop_step, &accu) {
                return Ok(Ty::List(Box::new(self.check(f)?)));
            }
            if name == op::CONDITIONAL
                && args.len() == 3
                && accu(&args[2])
                && let Some(f) = appended(&args[1], &accu)
            {
                self.predicate(&args[0])?;
                return Ok(Ty::List(Box::new(self.check(f)?)));
            }
        }
        Err(self.err(id, "unsupported macro"))
    }

    fn predicate(&mut self, e: &IdedExpr) -> Result<(), String> {
        match self.check(e)? {
            Ty::Bool | Ty::Dyn => Ok(()),
            t => Err(self.err(e.id, format!("the predicate must be a bool, got {t}"))),
        }
    }
}

fn arithmetic(name: &str, a: &Ty, b: &Ty) -> Result<Ty, String> {
    let what = match name {
        op::ADD => format!("add {a} and {b}"),
        op::SUBSTRACT => format!("subtract {b} from {a}"),
        op::MULTIPLY => format!("multiply {a} by {b}"),
        op::DIVIDE => format!("divide {a} by {b}"),
        _ => format!("take the remainder of {a} by {b}"),
    };
    let operand = |t: &Ty| match name {
        op::ADD => matches!(t, Ty::Int | Ty::Double | Ty::Str | Ty::List(_) | Ty::Dyn),
        op::MODULO => matches!(t, Ty::Int | Ty::Dyn),
        _ => matches!(t, Ty::Int | Ty::Double | Ty::Dyn),
    };
    match (a, b) {
        (Ty::Dyn, t) | (t, Ty::Dyn) if operand(t) => Ok(Ty::Dyn),
        (Ty::List(x), Ty::List(y)) if name == op::ADD => Ok(Ty::List(Box::new(if x == y {
            (**x).clone()
        } else {
            Ty::Dyn
        }))),
        (a, b) if a == b && operand(a) => Ok(a.clone()),
        (a, b) if a.numeric() && b.numeric() => Err(format!(
            "cannot {what}: write 2.0 instead of 2, or convert with double(...) or int(...)"
        )),
        _ => Err(format!("cannot {what}")),
    }
}
