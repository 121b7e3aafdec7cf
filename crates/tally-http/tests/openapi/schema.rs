//! A small JSON Schema checker: enough of 2020-12 for the shapes the document uses.

use super::*;

pub(crate) fn check(
    spec: &Value,
    schema: &Value,
    value: &Value,
    at: &str,
    errors: &mut Vec<String>,
) {
    if let Some(reference) = schema.get("$ref") {
        check(
            spec,
            resolve(spec, &json!({ "$ref": reference })),
            value,
            at,
            errors,
        );
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            check(spec, s, value, at, errors);
        }
    }
    for (keyword, exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(options) = schema.get(keyword).and_then(Value::as_array) {
            let passing = options.iter().filter(|s| valid(spec, s, value)).count();
            if (exactly_one && passing != 1) || passing == 0 {
                errors.push(format!(
                    "{at}: {passing} of the {keyword} options match {value}"
                ));
            }
        }
    }
    if let Some(not) = schema.get("not")
        && valid(spec, not, value)
    {
        errors.push(format!("{at}: matches a `not` schema: {value}"));
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => panic!("bad type at {at}"),
        };
        let fits = |t: &str| match t {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "string" => value.is_string(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            other => panic!("unknown type {other} at {at}"),
        };
        if !types.iter().any(|t| fits(t)) {
            errors.push(format!("{at}: {value} is not of type {types:?}"));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {options:?}"));
    }
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        errors.push(format!("{at}: {value} is not {constant}"));
    }
    if let Some(n) = value.as_f64() {
        if schema
            .get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|min| n < min)
        {
            errors.push(format!("{at}: {n} is below the minimum"));
        }
        if schema
            .get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|max| n > max)
        {
            errors.push(format!("{at}: {n} is above the maximum"));
        }
    }
    if let Some(s) = value.as_str() {
        let chars = s.chars().count() as u64;
        if schema
            .get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|min| chars < min)
        {
            errors.push(format!("{at}: `{s}` is too short"));
        }
        if schema
            .get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|max| chars > max)
        {
            errors.push(format!("{at}: `{s}` is too long"));
        }
    }
    if let Some(items) = value.as_array() {
        if schema
            .get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|min| (items.len() as u64) < min)
        {
            errors.push(format!("{at}: too few items"));
        }
        if schema
            .get("maxItems")
            .and_then(Value::as_u64)
            .is_some_and(|max| (items.len() as u64) > max)
        {
            errors.push(format!("{at}: too many items"));
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                check(spec, item_schema, item, &format!("{at}/{i}"), errors);
            }
        }
    }
    if let Some(object) = value.as_object() {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().expect("required names are strings");
            if !object.contains_key(name) {
                errors.push(format!("{at}: `{name}` is required"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, v) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(property) => check(spec, property, v, &format!("{at}/{name}"), errors),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        errors.push(format!("{at}: `{name}` is not a known property"))
                    }
                    Some(extra @ Value::Object(_)) => {
                        check(spec, extra, v, &format!("{at}/{name}"), errors)
                    }
                    _ => {}
                },
            }
        }
    }
}

pub(crate) fn valid(spec: &Value, schema: &Value, value: &Value) -> bool {
    let mut errors = Vec::new();
    check(spec, schema, value, "", &mut errors);
    errors.is_empty()
}

pub(crate) fn assert_matches(spec: &Value, schema: &Value, value: &Value, what: &str) {
    let mut errors = Vec::new();
    check(spec, schema, value, "", &mut errors);
    assert!(
        errors.is_empty(),
        "{what} does not match its schema:\n  {}\nvalue: {value:#}",
        errors.join("\n  ")
    );
}
