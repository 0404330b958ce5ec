//! Demo placeholder, replaced by the passport demo.
fn main() {
    println!("baton");
}
