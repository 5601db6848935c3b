//! The file's JSON shape, read member by member in file order so that a key
//! given twice is seen (a map keeps only the last of two `"readOnly"`s, silently).

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::entry;

/// A JSON object's members in file order, duplicates kept.
#[derive(Debug)]
pub(super) struct Members<V>(pub Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Members<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MembersVisitor<V> {
            type Value = Members<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<V>, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor(std::marker::PhantomData))
    }
}

/// The file's top level: the server lists (`mcpServers`, or `servers` as VS Code
/// writes it) and everything else.
pub(super) struct TopLevel {
    pub servers: Vec<(String, Members<Members<Value>>)>,
    pub others: Vec<(String, Value)>,
}

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TopVisitor;
        impl<'de> Visitor<'de> for TopVisitor {
            type Value = TopLevel;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object with \"mcpServers\"")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
                let mut top = TopLevel {
                    servers: Vec::new(),
                    others: Vec::new(),
                };
                while let Some(key) = map.next_key::<String>()? {
                    if matches!(entry::normalise(&key).as_str(), "mcpservers" | "servers") {
                        let servers = map.next_value()?;
                        top.servers.push((key, servers));
                    } else {
                        let value = map.next_value()?;
                        top.others.push((key, value));
                    }
                }
                Ok(top)
            }
        }
        deserializer.deserialize_map(TopVisitor)
    }
}
