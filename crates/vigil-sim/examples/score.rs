fn main() {
    let a: Vec<String> = std::env::args().collect();
    let truth = vigil_sim::truth::Truth::load(std::path::Path::new(&a[1])).unwrap();
    let text = std::fs::read_to_string(&a[2]).unwrap();
    let f: Vec<vigil_model::Finding> = text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
    print!("{}", vigil_sim::score(&truth, &f).to_table());
}
