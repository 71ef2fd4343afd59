//! The signal steps of the alignment: a median filter along time and dynamic time warping.

use ndarray::ArrayView2;

const MEDIAN_FILTER_WIDTH: usize = 7;

/// Median of each window of [`MEDIAN_FILTER_WIDTH`] values, the ends padded by reflection
/// (`d c b | a b c d | c b a`), as openai's `median_filter`. Rows no longer than the padding
/// come back unchanged, as there.
pub(super) fn median_filter(row: &[f32]) -> Vec<f32> {
    let half = MEDIAN_FILTER_WIDTH / 2;
    let n = row.len();
    if n <= half {
        return row.to_vec();
    }
    // Position `padded` of the padded row is `padded - half` of the row, mirrored at its ends.
    let reflect = |padded: usize| {
        let index = padded.abs_diff(half);
        if index < n {
            index
        } else {
            2 * (n - 1) - index
        }
    };
    (0..n)
        .map(|center| {
            let mut window = [0.0f32; MEDIAN_FILTER_WIDTH];
            for (k, value) in window.iter_mut().enumerate() {
                *value = row[reflect(center + k)];
            }
            // torch sorts NaN above every number.
            let (_, median, _) = window.select_nth_unstable_by(half, |a, b| {
                a.partial_cmp(b)
                    .unwrap_or_else(|| a.is_nan().cmp(&b.is_nan()))
            });
            *median
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Diagonal,
    Up,
    Left,
}

/// Low-cost monotone path through `cost` (rows × columns) from its first cell to its last,
/// moving one row, one column or both at each step: the row and column indices of every cell
/// on it. As in openai's `dtw_cpu` and CTranslate2's `negative_dtw`, costs accumulate in f32
/// and each cell comes from its diagonal or upper neighbour only if that is strictly the
/// cheapest, else from the left: a tie between diagonal and up goes left even where left
/// costs more.
pub fn dtw(cost: ArrayView2<f32>) -> (Vec<usize>, Vec<usize>) {
    let (rows, columns) = cost.dim();
    let width = columns + 1;
    // total[i * width + j]: cheapest cost to reach cell (i - 1, j - 1); row and column 0 are
    // the start, reachable only at (0, 0).
    let mut total = vec![f32::INFINITY; (rows + 1) * width];
    let mut trace = vec![Step::Left; (rows + 1) * width];
    total[0] = 0.0;
    for i in 1..=rows {
        for j in 1..=columns {
            let diagonal = total[(i - 1) * width + j - 1];
            let up = total[(i - 1) * width + j];
            let left = total[i * width + j - 1];
            // Strict comparisons: a tie (or NaN) falls through to the later choice.
            let (best, step) = if diagonal < up && diagonal < left {
                (diagonal, Step::Diagonal)
            } else if up < diagonal && up < left {
                (up, Step::Up)
            } else {
                (left, Step::Left)
            };
            total[i * width + j] = cost[[i - 1, j - 1]] + best;
            trace[i * width + j] = step;
        }
    }

    let mut path = Vec::new();
    let (mut i, mut j) = (rows, columns);
    // Finite costs always lead back through (1, 1). Otherwise openai walks on along row or
    // column 0, emitting index -1; CTranslate2 stops, as here.
    while i > 0 && j > 0 {
        path.push((i - 1, j - 1));
        match trace[i * width + j] {
            Step::Diagonal => (i, j) = (i - 1, j - 1),
            Step::Up => i -= 1,
            Step::Left => j -= 1,
        }
    }
    path.into_iter().rev().unzip()
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, array};

    use super::*;
    use crate::alignment::toy::*;

    #[test]
    fn dtw_follows_the_cheap_diagonal() {
        let cost = array![[0.0f32, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]];
        assert_eq!(dtw(cost.view()), (vec![0, 1, 2], vec![0, 1, 2]));
    }

    #[test]
    fn dtw_breaks_ties_like_openai() {
        // All equal: every tie goes left, so the path drops to the last row as soon as the
        // first column allows (hand-computed).
        let flat = Array2::<f32>::zeros((2, 3));
        assert_eq!(dtw(flat.view()), (vec![0, 1, 1, 1], vec![0, 0, 1, 2]));
        // At (1, 1) the diagonal and up tie below left; strict comparisons pick left, the
        // costlier step, where a true minimum would take the diagonal.
        let cost = array![[0.0f32, 0.0], [1.0, 0.0]];
        assert_eq!(dtw(cost.view()), (vec![0, 1, 1], vec![0, 0, 1]));
    }

    #[test]
    fn dtw_matches_openai_on_pseudo_random_costs() {
        // Expected paths printed by tests/alignment_reference.py from openai's own dtw_cpu.
        // Costs of 0, 1 or 2 tie often; this matrix's path changes if ties went to the diagonal.
        let ties: Vec<f32> = pseudo_random(2, 35)
            .iter()
            .map(|r| (r % 3) as f32)
            .collect();
        let ties = Array2::from_shape_vec((5, 7), ties).unwrap();
        assert_eq!(
            dtw(ties.view()),
            (
                vec![0, 1, 2, 2, 2, 3, 3, 4, 4],
                vec![0, 0, 0, 1, 2, 3, 4, 5, 6]
            )
        );
        let noisy: Vec<f32> = pseudo_random(7, 96)
            .iter()
            .map(|r| ((r % 1000) as f64 / 1000.0 - 0.5) as f32)
            .collect();
        let noisy = Array2::from_shape_vec((8, 12), noisy).unwrap();
        assert_eq!(
            dtw(noisy.view()),
            (
                vec![0, 0, 1, 2, 3, 3, 3, 3, 4, 5, 6, 7, 7, 7, 7, 7],
                vec![0, 1, 1, 2, 3, 4, 5, 6, 6, 6, 6, 7, 8, 9, 10, 11]
            )
        );
    }

    #[test]
    fn dtw_of_an_empty_matrix_is_an_empty_path() {
        assert_eq!(dtw(Array2::<f32>::zeros((0, 4)).view()), (vec![], vec![]));
        assert_eq!(dtw(Array2::<f32>::zeros((3, 0)).view()), (vec![], vec![]));
    }

    #[test]
    fn median_filter_reflects_at_the_edges() {
        // Padded: 2 9 1 | 5 1 9 2 8 3 7 4 | 7 3 8 (hand-computed, checked with numpy).
        let row = [5.0, 1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0];
        assert_eq!(
            median_filter(&row),
            [2.0, 5.0, 3.0, 5.0, 4.0, 7.0, 4.0, 7.0]
        );
        // Three values cannot be padded by three: unchanged, as in openai.
        assert_eq!(median_filter(&[3.0, 1.0, 2.0]), [3.0, 1.0, 2.0]);
        assert_eq!(median_filter(&[]), Vec::<f32>::new());
    }

    #[test]
    fn median_filter_matches_openai() {
        // Expected values printed by tests/alignment_reference.py.
        let row: Vec<f32> = pseudo_random(3, 11)
            .iter()
            .map(|r| ((r % 100) as f64 / 10.0) as f32)
            .collect();
        assert_eq!(
            median_filter(&row),
            [3.8, 3.8, 3.8, 3.8, 1.5, 1.5, 0.9, 0.9, 0.9, 6.3, 0.9]
        );
        let short: Vec<f32> = pseudo_random(4, 4)
            .iter()
            .map(|r| ((r % 100) as f64 / 10.0) as f32)
            .collect();
        assert_eq!(short, [2.6, 9.2, 7.4, 7.1]);
        assert_eq!(median_filter(&short), [7.4; 4]);
    }
}
