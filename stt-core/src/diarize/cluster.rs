//! Average-linkage agglomerative clustering on cosine similarity, built with the
//! nearest-neighbour chain (O(n²) time and memory), then cut by a similarity threshold or at a
//! number of clusters.

/// Where to cut the tree of merges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cut {
    /// Merge while the two closest clusters are at least this similar on average.
    Similarity(f32),
    /// Merge down to this many clusters (or fewer items).
    Clusters(usize),
}

/// A cluster label per embedding, numbered from 0 in order of first appearance.
pub fn agglomerate(embeddings: &[Vec<f32>], cut: Cut) -> Vec<usize> {
    let n = embeddings.len();
    let unit: Vec<Vec<f32>> = embeddings.iter().map(|e| normalized(e)).collect();
    let mut similarity = vec![0.0f32; n * n];
    for i in 0..n {
        for j in i..n {
            let s: f32 = unit[i].iter().zip(&unit[j]).map(|(a, b)| a * b).sum();
            similarity[i * n + j] = s;
            similarity[j * n + i] = s;
        }
    }
    let mut merges = nearest_neighbour_chain(&mut similarity, n);
    // Average linkage is reducible, so merges sorted by similarity form a valid tree.
    merges.sort_by(|a, b| b.2.total_cmp(&a.2));
    let mut parent: Vec<usize> = (0..n).collect();
    let mut clusters = n;
    for (a, b, s) in merges {
        let done = match cut {
            Cut::Similarity(threshold) => s < threshold,
            Cut::Clusters(k) => clusters <= k,
        };
        if done {
            break;
        }
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        parent[rb] = ra;
        clusters -= 1;
    }
    let mut label_of_root = vec![usize::MAX; n];
    let mut next = 0;
    (0..n)
        .map(|i| {
            let r = root(&mut parent, i);
            if label_of_root[r] == usize::MAX {
                label_of_root[r] = next;
                next += 1;
            }
            label_of_root[r]
        })
        .collect()
}

/// The n − 1 merges (kept index, absorbed index, average similarity) of average linkage.
/// `similarity` is updated in place (Lance–Williams) as clusters merge.
fn nearest_neighbour_chain(similarity: &mut [f32], n: usize) -> Vec<(usize, usize, f32)> {
    let mut active = vec![true; n];
    let mut size = vec![1usize; n];
    let mut merges = Vec::with_capacity(n.saturating_sub(1));
    let mut chain: Vec<usize> = Vec::new();
    while merges.len() + 1 < n {
        if chain.is_empty() {
            chain.push(active.iter().position(|&a| a).unwrap_or(0));
        }
        let (a, b) = loop {
            let a = chain[chain.len() - 1];
            let previous = chain.len().checked_sub(2).map(|i| chain[i]);
            // The most similar other cluster; the previous link wins ties so the chain ends.
            let mut best = previous;
            let mut best_similarity = previous.map_or(f32::NEG_INFINITY, |p| similarity[a * n + p]);
            for k in (0..n).filter(|&k| active[k] && k != a) {
                if similarity[a * n + k] > best_similarity {
                    best = Some(k);
                    best_similarity = similarity[a * n + k];
                }
            }
            let b = best.expect("two active clusters remain");
            if Some(b) == previous {
                break (a, b);
            }
            chain.push(b);
        };
        chain.truncate(chain.len() - 2);
        let (kept, absorbed) = (a.min(b), a.max(b));
        merges.push((kept, absorbed, similarity[a * n + b]));
        let (wa, wb) = (size[kept] as f32, size[absorbed] as f32);
        for k in (0..n).filter(|&k| active[k] && k != kept && k != absorbed) {
            let merged =
                (wa * similarity[kept * n + k] + wb * similarity[absorbed * n + k]) / (wa + wb);
            similarity[kept * n + k] = merged;
            similarity[k * n + kept] = merged;
        }
        active[absorbed] = false;
        size[kept] += size[absorbed];
    }
    merges
}

fn root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// `v` scaled to unit length.
pub(super) fn normalized(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter().map(|x| x / norm).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points near two directions, interleaved in order.
    fn two_groups() -> Vec<Vec<f32>> {
        (0..10)
            .map(|i| {
                let wobble = 0.05 * (i as f32 * 1.7).sin();
                if i % 3 == 0 {
                    vec![wobble, 1.0, 0.1]
                } else {
                    vec![1.0, wobble, 0.1]
                }
            })
            .collect()
    }

    #[test]
    fn a_threshold_finds_the_groups() {
        let labels = agglomerate(&two_groups(), Cut::Similarity(0.5));
        assert_eq!(labels, vec![0, 1, 1, 0, 1, 1, 0, 1, 1, 0]);
    }

    #[test]
    fn a_count_is_honoured() {
        assert_eq!(agglomerate(&two_groups(), Cut::Clusters(1)), vec![0; 10]);
        let three = agglomerate(&two_groups(), Cut::Clusters(3));
        assert_eq!(three.iter().max(), Some(&2));
        assert_eq!(
            agglomerate(&two_groups(), Cut::Clusters(20)).iter().max(),
            Some(&9)
        );
    }

    #[test]
    fn tiny_inputs() {
        assert!(agglomerate(&[], Cut::Clusters(2)).is_empty());
        assert_eq!(
            agglomerate(&[vec![1.0, 0.0]], Cut::Similarity(0.9)),
            vec![0]
        );
    }

    #[test]
    fn matches_naive_average_linkage() {
        // Deterministic pseudo-random points; the chain must give the same partition as
        // repeatedly merging the most similar pair.
        let mut seed = 7u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (seed >> 16) as f32 / 65_536.0 - 0.5
        };
        let points: Vec<Vec<f32>> = (0..25).map(|_| (0..4).map(|_| next()).collect()).collect();
        for k in 1..6 {
            let fast = agglomerate(&points, Cut::Clusters(k));
            let mut clusters: Vec<Vec<usize>> = (0..points.len()).map(|i| vec![i]).collect();
            let unit: Vec<Vec<f32>> = points.iter().map(|p| normalized(p)).collect();
            let sim = |a: usize, b: usize| {
                unit[a]
                    .iter()
                    .zip(&unit[b])
                    .map(|(x, y)| x * y)
                    .sum::<f32>()
            };
            while clusters.len() > k {
                let mut best = (f32::NEG_INFINITY, 0, 0);
                for i in 0..clusters.len() {
                    for j in i + 1..clusters.len() {
                        let total: f32 = clusters[i]
                            .iter()
                            .flat_map(|&a| clusters[j].iter().map(move |&b| (a, b)))
                            .map(|(a, b)| sim(a, b))
                            .sum();
                        let average = total / (clusters[i].len() * clusters[j].len()) as f32;
                        if average > best.0 {
                            best = (average, i, j);
                        }
                    }
                }
                let absorbed = clusters.remove(best.2);
                clusters[best.1].extend(absorbed);
            }
            for cluster in &clusters {
                assert!(
                    cluster.iter().all(|&i| fast[i] == fast[cluster[0]]),
                    "k={k}"
                );
            }
        }
    }
}
