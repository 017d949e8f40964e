package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestLogin(t *testing.T) {
	h := app()
	post := httptest.NewRequest("POST", "http://localhost:8080/login", strings.NewReader(url.Values{"user": {"ada"}, "password": {"lovelace"}}.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, post)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
		t.Fatalf("login: %d %q", w.Code, w.Header().Get("Location"))
	}
	get := httptest.NewRequest("GET", "http://localhost:8080/", nil)
	for _, c := range w.Result().Cookies() {
		get.AddCookie(c)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, get)
	if !strings.Contains(w.Body.String(), "Hello ada") {
		t.Fatalf("page: %d %s", w.Code, w.Body)
	}
}
