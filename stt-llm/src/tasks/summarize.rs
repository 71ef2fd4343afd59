//! `/v1/summarize`: a summary in one of four styles.

use stt_core::Result;

use super::pieces::{condense, text_budget};
use super::{SYSTEM, TaskContext, check_text, named_enum, transcript_message};
use crate::runtime::Message;

named_enum!(
    /// How a summary reads.
    #[derive(Default)]
    SummaryStyle, "style" {
        #[default]
        Brief => "brief",
        Detailed => "detailed",
        ActionItems => "action_items",
        BulletPoints => "bullet_points",
    }
);

impl SummaryStyle {
    fn instruction(self) -> &'static str {
        match self {
            SummaryStyle::Brief => {
                "Summarise the transcript in two to four sentences: what it is about and its main points."
            }
            SummaryStyle::Detailed => {
                "Write a detailed summary of the transcript in a few paragraphs: every topic in \
                 order, with the facts, figures, decisions and conclusions."
            }
            SummaryStyle::ActionItems => {
                "List the action items of the transcript, one per line starting with \"- \": \
                 the task, who owns it and the deadline when the transcript says them. If there \
                 are none, say so in one sentence."
            }
            SummaryStyle::BulletPoints => {
                "Summarise the transcript as five to ten bullet points, one per line starting \
                 with \"- \", in the order the points come."
            }
        }
    }

    fn max_tokens(self) -> u32 {
        match self {
            SummaryStyle::Brief => 200,
            _ => 600,
        }
    }
}

/// A summary of `text` in `style`; streamed through the context when `stream`.
pub fn summarize(
    context: &mut TaskContext,
    text: &str,
    style: SummaryStyle,
    stream: bool,
) -> Result<String> {
    let text = check_text(text)?;
    let budget = text_budget(context, style.max_tokens());
    let text = condense(context, text, budget)?;
    let messages = [
        Message::system(SYSTEM),
        transcript_message(style.instruction(), &text),
    ];
    context.text(&messages, style.max_tokens(), stream)
}
