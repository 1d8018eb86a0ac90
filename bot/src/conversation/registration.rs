//! Registration questions and the profile that shows and changes the answers.
//!
//! ```text
//! bot:     How old are you? (choose one)        [18–25] [26–40] [41+]
//! shopper: [26–40]
//! bot:     What do you like? (choose any, then Done)   [Tea] [✓ Coffee] [Done]
//! shopper: [Done]
//! bot:     Do you follow a diet? (optional)     [Vegan] [Sugar-free] [Skip]
//! shopper: /profile
//! bot:     Your answers: ...                    [Change: How old are you?] ...
//! ```
//!
//! An answer is only ever stored whole (a multiple choice on Done), through
//! `store::shoppers::answers`, which refuses options that are archived or belong to another question.
//! This module must never record an answer the shopper did not press.

use std::collections::BTreeSet;

use super::Button;
use super::callback::Callback;
use super::session::{Flow, Session};
use super::state::Step;
use crate::store::shoppers::questions::QuestionView;
use crate::store::{self, StoreError, shoppers::answers};

impl Session<'_> {
    /// Shows a question with its options; a multiple choice keeps the options ticked so far.
    pub fn ask(&mut self, view: &QuestionView, editing: bool) {
        let question = view.question.id;
        let selected = match &self.state.step {
            Step::Answering {
                question: current,
                selected,
                ..
            } if *current == question => selected.clone(),
            _ => Vec::new(),
        };
        let mut hint = if view.is_multiple() {
            self.t("choose_several")
        } else {
            self.t("choose_one")
        };
        if !view.question.required {
            hint.push(' ');
            hint.push_str(&self.t("optional_question"));
        }
        let mut rows: Vec<Vec<Button>> = view
            .options
            .iter()
            .map(|option| {
                let label = if selected.contains(&option.id) {
                    format!("✓ {}", option.text)
                } else {
                    option.text.clone()
                };
                vec![Button::new(
                    label,
                    Callback::Choose {
                        question,
                        option: option.id,
                    },
                )]
            })
            .collect();
        let mut last = Vec::new();
        if view.is_multiple() {
            last.push(Button::new(self.t("done"), Callback::Done { question }));
        }
        if !view.question.required {
            last.push(Button::new(self.t("skip"), Callback::Skip { question }));
        }
        if editing {
            last.push(Button::new(self.t("back"), Callback::Profile));
        }
        if !last.is_empty() {
            rows.push(last);
        }
        self.state.step = Step::Answering {
            question,
            selected,
            editing,
        };
        self.screen(format!("{}\n{hint}", view.question.text), rows);
    }

    /// A press on an option, Done or Skip.
    pub async fn answer(&mut self, callback: Callback) -> Flow {
        let data = callback.to_string();
        let question = match callback {
            Callback::Choose { question, .. }
            | Callback::Done { question }
            | Callback::Skip { question } => question,
            _ => return Ok(()),
        };
        let questions = answers::active_questions(self.db()).await?;
        let Some(view) = questions
            .iter()
            .find(|view| view.question.id == question)
            .cloned()
        else {
            self.refuse(&data, "no such active question");
            return Ok(());
        };
        let (mut selected, editing) = match &self.state.step {
            Step::Answering {
                question: current,
                selected,
                editing,
            } if *current == question => (selected.clone(), *editing),
            _ => (Vec::new(), false),
        };
        let chosen: Vec<i64> = match callback {
            Callback::Choose { option, .. } => {
                if !view.options.iter().any(|o| o.id == option) {
                    self.refuse(&data, "option of another question or archived");
                    return Ok(());
                }
                if view.is_multiple() {
                    // Toggle and show the question again; nothing is stored until Done.
                    if let Some(at) = selected.iter().position(|id| *id == option) {
                        selected.remove(at);
                    } else {
                        selected.push(option);
                    }
                    self.state.step = Step::Answering {
                        question,
                        selected,
                        editing,
                    };
                    self.ask(&view, editing);
                    return Ok(());
                }
                vec![option]
            }
            Callback::Done { .. } => {
                if !view.is_multiple() {
                    self.refuse(&data, "Done on a single-choice question");
                    return Ok(());
                }
                let still_offered: BTreeSet<i64> = view.options.iter().map(|o| o.id).collect();
                selected.retain(|id| still_offered.contains(id));
                if selected.is_empty() && view.question.required {
                    self.notice("choose_at_least_one");
                    self.ask(&view, editing);
                    return Ok(());
                }
                selected
            }
            _ => {
                if view.question.required {
                    self.refuse(&data, "Skip on a required question");
                    return Ok(());
                }
                Vec::new()
            }
        };
        let txn = store::begin_write(self.db()).await?;
        match answers::replace_answer(&txn, self.customer.id, question, &chosen, self.now).await {
            Ok(()) => txn.commit().await?,
            Err(StoreError::Invalid(why) | StoreError::NotFound { entity: _, id: why }) => {
                txn.rollback().await?;
                self.refuse(&data, &why);
                return Ok(());
            }
            Err(error) => return Err(error),
        }
        self.notice("answer_saved");
        self.state.step = Step::Idle;
        self.refresh_segments().await;
        self.after_answer(editing, questions).await
    }

    /// What follows an answer: the next question, or the end of registration, or the profile.
    /// `questions` are the active questions as the answer found them.
    async fn after_answer(&mut self, editing: bool, questions: Vec<QuestionView>) -> Flow {
        if let Some(next) =
            answers::next_unanswered_of(self.db(), self.customer.id, questions).await?
        {
            self.ask(&next, false);
            return Ok(());
        }
        // Registration is set once; a registered shopper changing an answer has nothing to mark.
        if self.customer.registered_at.is_none()
            && answers::mark_registered_if_complete(self.db(), self.customer.id, self.now).await?
        {
            self.screen(self.t("registered"), Vec::new());
            if let Some(product) = self.state.pending_product.take() {
                return self.product(product).await;
            }
            if let Some(command) = self.state.pending_command.take() {
                return Box::pin(self.text(command)).await;
            }
            self.main_menu();
            return Ok(());
        }
        if editing {
            return self.profile().await;
        }
        // A question added later interrupted a command: carry it out now.
        if let Some(command) = self.state.pending_command.take() {
            self.say(self.t("answer_saved"));
            return Box::pin(self.text(command)).await;
        }
        self.main_menu();
        Ok(())
    }

    /// The shopper's answers, with a button to change each, and the news setting.
    pub async fn profile(&mut self) -> Flow {
        self.state.step = Step::Idle;
        let questions = answers::active_questions(self.db()).await?;
        let given = answers::answers_of(self.db(), self.customer.id).await?;
        let mut text = self.t("profile_title");
        let mut rows = Vec::new();
        for view in &questions {
            let mine: Vec<&_> = given
                .iter()
                .filter(|a| a.question_id == view.question.id)
                .collect();
            let shown = if mine.is_empty() {
                self.t("profile_no_answer")
            } else if mine.iter().all(|a| a.option_id.is_none()) {
                self.t("profile_skipped")
            } else {
                view.options
                    .iter()
                    .filter(|o| mine.iter().any(|a| a.option_id == Some(o.id)))
                    .map(|o| o.text.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            text.push_str(&format!("\n• {}: {shown}", view.question.text));
            rows.push(vec![Button::new(
                self.fill("profile_change", &[("question", &view.question.text)]),
                Callback::Change {
                    question: view.question.id,
                },
            )]);
        }
        let (status, toggle) = if self.customer.messages_opt_out {
            ("news_off", "news_turn_on")
        } else {
            ("news_on", "news_turn_off")
        };
        text.push_str(&format!("\n\n{}", self.t(status)));
        rows.push(vec![Button::new(self.t(toggle), Callback::ToggleNews)]);
        let (phone, address) =
            crate::store::shoppers::customers::saved_details(self.db(), self.customer.id).await?;
        if phone.is_some() || address.is_some() {
            text.push_str(&format!("\n\n{}", self.t("saved_details_title")));
            text.push_str(&self.contact_lines(phone.as_deref(), address.as_deref()));
            rows.push(vec![Button::new(
                self.t("forget_details"),
                Callback::ForgetDetails,
            )]);
        }
        rows.push(self.back_to_menu());
        self.screen(text, rows);
        Ok(())
    }

    /// Opens a question from the profile, with the current answer ticked.
    pub async fn change_answer(&mut self, question: i64) -> Flow {
        let Some(view) = answers::active_question(self.db(), question).await? else {
            self.refuse(
                &Callback::Change { question }.to_string(),
                "no such question",
            );
            return Ok(());
        };
        let selected = answers::answers_of(self.db(), self.customer.id)
            .await?
            .into_iter()
            .filter(|a| a.question_id == question)
            .filter_map(|a| a.option_id)
            .collect();
        self.state.step = Step::Answering {
            question,
            selected,
            editing: true,
        };
        self.ask(&view, true);
        Ok(())
    }

    pub async fn toggle_news(&mut self) -> Flow {
        let opt_out = !self.customer.messages_opt_out;
        answers::set_messages_opt_out(self.db(), self.customer.id, opt_out).await?;
        self.customer.messages_opt_out = opt_out;
        self.profile().await
    }
}
